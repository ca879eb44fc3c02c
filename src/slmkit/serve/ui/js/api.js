// Calls to this server: JSON in and out, the API key (kept in sessionStorage) as a Bearer.
const KEY = "slm-api-key";

export function apiKey() { return sessionStorage.getItem(KEY) || ""; }
export function setApiKey(key) { key ? sessionStorage.setItem(KEY, key) : sessionStorage.removeItem(KEY); }

let onUnauthorized = () => {};
export function whenUnauthorized(fn) { onUnauthorized = fn; }

export class ApiError extends Error {
  constructor(status, message, hint) { super(message); this.status = status; this.hint = hint; }
}

export function headers() {
  const h = { "Content-Type": "application/json", Accept: "application/json" };
  if (apiKey()) h.Authorization = `Bearer ${apiKey()}`;
  return h;
}

/** fetch(path) with the key; throws ApiError with the server's message on a non-2xx. */
export async function request(path, { method = "GET", body, signal } = {}) {
  const response = await fetch(path, {
    method, signal, headers: headers(), body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) throw await errorOf(response);
  return response;
}

export async function json(path, options) { return (await request(path, options)).json(); }

export async function errorOf(response) {
  let message = `HTTP ${response.status}`, hint;
  try {
    const data = await response.json();
    const err = data.error || data;
    message = (typeof err === "string" ? err : err.message) || message;
    hint = err.hint;
  } catch { /* not JSON */ }
  if (response.status === 401) onUnauthorized();
  return new ApiError(response.status, message, hint);
}
