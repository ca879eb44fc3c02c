// The chat page: streaming answers, stop, model picker, settings, server-side history.
import { ApiError, json, request } from "./api.js";
import { $, clear, el } from "./dom.js";
import { onLanguage, t } from "./i18n.js";
import { render } from "./markdown.js";
import { events } from "./sse.js";
import { showError } from "./status.js";

const state = { conversations: [], current: null, controller: null };
window.__slmTokenTimes = []; // wall-clock ms at which each streamed piece reached the page

export function init() {
  $("composer").addEventListener("submit", (e) => { e.preventDefault(); send(); });
  $("prompt").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); send(); }
  });
  $("stop").addEventListener("click", stop);
  $("new-chat").addEventListener("click", () => openConversation(null));
  $("json-mode").addEventListener("change", () => { $("schema").disabled = !$("json-mode").checked; });
  $("temperature").addEventListener("input", () => { $("temperature-out").value = $("temperature").value; });
  $("model").addEventListener("change", () => localStorage.setItem("slm-model", $("model").value));
  onLanguage(() => { renderList(); renderMessages(); });
}

export async function refresh() {
  await Promise.all([loadModels(), loadConversations()]);
}

async function loadModels() {
  const data = await json("/v1/models");
  const select = clear($("model"));
  const want = state.current?.model || localStorage.getItem("slm-model");
  for (const m of data.data) select.append(el("option", { value: m.id }, m.id));
  if (want && data.data.some((m) => m.id === want)) select.value = want;
}

async function loadConversations() {
  try {
    state.conversations = (await json("/v1/ui/conversations")).data;
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 404)) throw err;
    state.conversations = []; // this server keeps no history
  }
  renderList();
  const wanted = sessionStorage.getItem("slm-conversation");
  if (!state.current && wanted && state.conversations.some((c) => c.id === wanted)) {
    await openConversation(wanted);
  }
}

function renderList() {
  const list = clear($("conversations"));
  for (const c of state.conversations) {
    const current = state.current?.id === c.id;
    list.append(el("li", { class: current ? "current" : null, "data-id": c.id },
      el("button", { type: "button", class: "open", "aria-current": current ? "true" : null,
        onclick: () => openConversation(c.id) }, c.title),
      el("button", { type: "button", class: "small", "aria-label": `${t("rename")}: ${c.title}`,
        onclick: () => rename(c) }, t("rename")),
      el("button", { type: "button", class: "small danger", "aria-label": `${t("delete")}: ${c.title}`,
        onclick: () => remove(c) }, t("delete")),
      el("button", { type: "button", class: "small", "aria-label": `${t("exportMd")}: ${c.title}`,
        onclick: () => download(c, "markdown") }, t("exportMd")),
      el("button", { type: "button", class: "small", "aria-label": `${t("exportJson")}: ${c.title}`,
        onclick: () => download(c, "json") }, t("exportJson"))));
  }
}

async function openConversation(id) {
  if (state.controller) stop();
  if (id === null) {
    state.current = null;
    sessionStorage.removeItem("slm-conversation");
  } else {
    state.current = await json(`/v1/ui/conversations/${encodeURIComponent(id)}`);
    sessionStorage.setItem("slm-conversation", id);
    const s = state.current.settings || {};
    if (state.current.model) $("model").value = state.current.model;
    if (s.system !== undefined) $("system").value = s.system;
  }
  renderList();
  renderMessages();
  $("prompt").focus();
}

async function rename(c) {
  const title = window.prompt(t("renamePrompt"), c.title);
  if (!title || !title.trim()) return;
  await json(`/v1/ui/conversations/${encodeURIComponent(c.id)}`, { method: "PUT", body: { title: title.trim().slice(0, 200) } });
  if (state.current?.id === c.id) state.current.title = title.trim();
  await loadConversations();
}

async function remove(c) {
  if (!window.confirm(t("confirmDelete"))) return;
  await request(`/v1/ui/conversations/${encodeURIComponent(c.id)}`, { method: "DELETE" });
  if (state.current?.id === c.id) await openConversation(null);
  await loadConversations();
}

async function download(c, format) {
  const response = await request(`/v1/ui/conversations/${encodeURIComponent(c.id)}/export?format=${format}`);
  const url = URL.createObjectURL(await response.blob());
  const a = el("a", { href: url, download: `conversation-${c.id}.${format === "json" ? "json" : "md"}` });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

function renderMessages() {
  const box = clear($("messages"));
  for (const m of state.current?.messages || []) box.append(messageNode(m));
  box.scrollTop = box.scrollHeight;
}

function messageNode(m) {
  const body = el("div", { class: "content" });
  const node = el("div", { class: `msg ${m.role}`, "data-role": m.role }, body);
  fill(node, m);
  return node;
}

/** Put message m's text and numbers into its node (user text is plain, answers Markdown). */
function fill(node, m) {
  const body = node.querySelector(".content");
  if (m.role === "assistant") body.replaceChildren(render(m.content));
  else body.textContent = m.content;
  node.querySelector(".stats")?.remove();
  node.querySelector(".error")?.remove();
  if (m.meta?.error) node.append(el("div", { class: "error", role: "alert" }, m.meta.error));
  const s = m.meta || {};
  if (s.tokens !== undefined) {
    const parts = [];
    if (s.tps) parts.push(`${s.tps.toFixed(1)} ${t("tokensPerSecond")}`);
    if (s.ttft !== undefined) parts.push(`${t("ttft")} ${(s.ttft * 1000).toFixed(0)} ms`);
    parts.push(`${s.tokens} tokens`);
    if (s.stopped) parts.push(t("stopped"));
    node.append(el("div", { class: "stats" }, parts.join(" · ")));
  }
}

function requestBody(messages) {
  const body = {
    model: $("model").value, stream: true, stream_options: { include_usage: true },
    temperature: Number($("temperature").value), max_tokens: Number($("max-tokens").value) || undefined,
    messages: [], response_format: undefined,
  };
  const system = $("system").value.trim();
  if (system) body.messages.push({ role: "system", content: system });
  body.messages.push(...messages.filter((m) => m.role !== "system" && !m.meta?.error)
    .map((m) => ({ role: m.role, content: m.content })));
  if ($("json-mode").checked) {
    const text = $("schema").value.trim();
    if (text) {
      let schema;
      try { schema = JSON.parse(text); } catch { throw new Error(t("badSchema")); }
      body.response_format = { type: "json_schema", json_schema: { name: "answer", schema } };
    } else body.response_format = { type: "json_object" };
  }
  return body;
}

async function ensureConversation(text) {
  if (state.current) return;
  const title = text.replace(/\s+/g, " ").trim().slice(0, 60) || t("newChat");
  state.current = await json("/v1/ui/conversations", { method: "POST", body: { title, model: $("model").value } })
    .catch((err) => { if (err.status === 404) return { id: null, title, messages: [] }; throw err; });
  state.current.messages = [];
  if (state.current.id) sessionStorage.setItem("slm-conversation", state.current.id);
}

async function send() {
  const text = $("prompt").value;
  if (!text.trim() || state.controller) return;
  if (!$("model").value) { showError(t("chooseModel")); return; }
  let body;
  try {
    await ensureConversation(text);
    state.current.messages.push({ role: "user", content: text, meta: {} });
    body = requestBody(state.current.messages);
  } catch (err) { showError(err.message); return; }
  $("prompt").value = "";
  renderMessages();
  const answer = { role: "assistant", content: "", meta: { model: body.model } };
  state.current.messages.push(answer);
  const node = messageNode(answer);
  $("messages").append(node);
  await stream(body, answer, node);
  await save();
}

async function stream(body, answer, node) {
  const controller = new AbortController();
  state.controller = controller;
  busy(true);
  const t0 = performance.now();
  let first = null, pieces = 0;
  try {
    const response = await request("/v1/chat/completions", { method: "POST", body, signal: controller.signal });
    for await (const event of events(response)) {
      if (event.error) throw new Error(event.error.message || "error");
      const delta = event.choices?.[0]?.delta?.content;
      if (delta) {
        if (first === null) first = performance.now();
        pieces++;
        answer.content += delta;
        node.querySelector(".content").replaceChildren(render(answer.content));
        window.__slmTokenTimes.push(performance.timeOrigin + performance.now());
        $("messages").scrollTop = $("messages").scrollHeight;
      }
      if (event.usage) answer.meta.tokens = event.usage.completion_tokens;
    }
  } catch (err) {
    if (err.name === "AbortError") answer.meta.stopped = true;
    else answer.meta.error = err.message;
  } finally {
    const end = performance.now();
    answer.meta.tokens ??= pieces;
    if (first !== null) {
      answer.meta.ttft = (first - t0) / 1000;
      const decode = (end - first) / 1000;
      if (decode > 0 && answer.meta.tokens > 1) answer.meta.tps = (answer.meta.tokens - 1) / decode;
    }
    state.controller = null;
    busy(false);
    fill(node, answer);
  }
}

function busy(on) {
  $("stop").hidden = !on;
  $("send").disabled = on;
  $("messages").setAttribute("aria-busy", on ? "true" : "false");
  if (on) $("stop").focus(); else $("prompt").focus();
}

function stop() {
  state.controller?.abort(); // the server sees the disconnect and cancels the generation
}

async function save() {
  const c = state.current;
  if (!c?.id) return;
  try {
    await json(`/v1/ui/conversations/${encodeURIComponent(c.id)}`, {
      method: "PUT",
      body: { model: $("model").value, settings: { system: $("system").value }, messages: c.messages },
    });
    await loadConversations();
  } catch (err) { showError(err.message); }
}
