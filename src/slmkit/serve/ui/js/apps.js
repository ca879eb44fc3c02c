// The apps page (shown only when the server mounts /v1/apps): a JSON payload for the chosen
// app, its progress events, and the result as tables; evidence fields are highlighted.
import { json, request } from "./api.js";
import { $, clear, el, table } from "./dom.js";
import { t } from "./i18n.js";
import { events } from "./sse.js";
import { showError } from "./status.js";

const EVIDENCE = /evidence|quote|span|excerpt/i;

export function init() {
  $("app-form").addEventListener("submit", (e) => { e.preventDefault(); run(); });
}

export async function refresh() {
  const apps = (await json("/v1/apps")).data;
  const select = $("app-name");
  const chosen = select.value;
  clear(select).append(...apps.map((a) => el("option", { value: a.name }, a.name)));
  if (apps.some((a) => a.name === chosen)) select.value = chosen;
}

async function run() {
  let payload;
  try {
    payload = JSON.parse($("app-payload").value || "{}");
    if (typeof payload !== "object" || Array.isArray(payload) || payload === null) throw new Error();
  } catch { showError(t("badPayload")); return; }
  const name = $("app-name").value;
  const box = clear($("app-result"));
  const bar = el("progress", { max: "1", "aria-label": t("progress") });
  const note = el("span", { class: "note" });
  box.append(el("div", { class: "row" }, bar, note));
  try {
    const response = await request(`/v1/apps/${name.split("/").map(encodeURIComponent).join("/")}`,
      { method: "POST", body: { ...payload, stream: true } });
    for await (const event of events(response)) {
      if (event.type === "progress") {
        if (event.total) { bar.max = String(event.total); bar.value = event.done || 0; }
        note.textContent = [event.done !== undefined && event.total ? `${event.done}/${event.total}` : "", event.item || event.stage || ""].join(" ");
      } else if (event.type === "result") {
        bar.max = "1"; bar.value = 1;
        box.append(result(event.result));
      } else if (event.type === "error") {
        showError(event.error?.message || "error");
      }
    }
  } catch (err) { showError(err.message); }
}

/** A result object as headings and tables; every value goes in as text. */
function result(value) {
  const frag = document.createDocumentFragment();
  for (const [key, v] of Object.entries(value || {})) {
    frag.append(el("h2", {}, key));
    if (Array.isArray(v) && v.length && v.every(isObject)) {
      const columns = [...new Set(v.flatMap((row) => Object.keys(row)))];
      frag.append(table(columns, v.map((row) => columns.map((c) => cell(c, row[c])))));
    } else if (isObject(v)) {
      frag.append(table([t("what"), t("value")], Object.entries(v).map(([k, x]) => [k, cell(k, x)])));
    } else if (Array.isArray(v)) {
      frag.append(el("ul", {}, v.map((x) => el("li", {}, cell(key, x)))));
    } else frag.append(el("p", { class: "app-text" }, cell(key, v)));
  }
  return frag;
}

function isObject(v) { return v !== null && typeof v === "object" && !Array.isArray(v); }

function cell(key, v) {
  if (v === null || v === undefined) return "-";
  if (typeof v === "object") return el("code", {}, JSON.stringify(v));
  return EVIDENCE.test(key) ? el("mark", {}, String(v)) : String(v);
}
