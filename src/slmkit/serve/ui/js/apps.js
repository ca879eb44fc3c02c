// The apps page (shown only when the server mounts /v1/apps): the chosen app's form, drawn
// from the fields its handler declares (a JSON box for an app that declares none), its
// progress while it runs (Stop cancels it on the server), and its result rendered for
// people, with the raw JSON one click away.
import { json, request } from "./api.js";
import { drawFields, readPayload, said } from "./app_form.js";
import { render } from "./app_results.js";
import { $, clear, el } from "./dom.js";
import { onLanguage, t } from "./i18n.js";
import { events } from "./sse.js";
import { clearStatus, showError } from "./status.js";

let apps = [];
let models = [];
let running = null; // the AbortController of the run in progress
let shown = null; // the result on the page: {node, kind, value, typed}, redrawn on a language switch

export function init() {
  $("app-form").addEventListener("submit", (e) => { e.preventDefault(); run(); });
  $("app-name").addEventListener("change", () => drawForm());
  $("app-cancel").addEventListener("click", () => running?.abort());
  onLanguage(() => {
    if (apps.length) { relabel(); drawForm(true); }
    if (shown?.node.isConnected) {
      const node = render(shown.kind, shown.value, shown.typed);
      shown.node.replaceWith(node);
      shown.node = node;
    }
  });
}

export async function refresh() {
  apps = (await json("/v1/apps")).data;
  try { models = (await json("/v1/models")).data.map((m) => m.id); } catch { models = []; }
  const select = $("app-name");
  const chosen = select.value;
  clear(select).append(...apps.map((a) => el("option", { value: a.name }, title(a))));
  if (apps.some((a) => a.name === chosen)) select.value = chosen;
  drawForm(true);
}

function title(app) { return app.form ? `${said(app.form, "title")} (${app.name})` : app.name; }

function relabel() {
  for (const option of $("app-name").options) {
    const app = apps.find((a) => a.name === option.value);
    if (app) option.textContent = title(app);
  }
}

function current() { return apps.find((a) => a.name === $("app-name").value); }

/** The chosen app's inputs; `keep`: keep what was typed in inputs of the same name. */
function drawForm(keep = false) {
  const app = current();
  const box = $("app-fields");
  const before = keep ? values(box) : {};
  clear(box);
  $("app-description").textContent = app?.form ? said(app.form, "description") : "";
  if (!app) return;
  if (app.form) box.append(...drawFields(app.form, models));
  else {
    box.append(el("label", { for: "app-payload" }, t("payload")),
      el("textarea", { id: "app-payload", rows: "8", spellcheck: "false" }, "{}"));
  }
  for (const [id, v] of Object.entries(before)) {
    const node = document.getElementById(id);
    if (node && node.type !== "file") { if (node.type === "checkbox") node.checked = v; else node.value = v; }
  }
}

function values(box) {
  const out = {};
  for (const node of box.querySelectorAll("input, select, textarea")) {
    if (node.id && node.type !== "file") out[node.id] = node.type === "checkbox" ? node.checked : node.value;
  }
  return out;
}

async function input(app) {
  if (app.form) return readPayload(app.form);
  let payload;
  try { payload = JSON.parse($("app-payload").value || "{}"); } catch { payload = null; }
  if (typeof payload !== "object" || Array.isArray(payload) || payload === null) throw new Error(t("badPayload"));
  return { payload, typed: {} };
}

async function run() {
  const app = current();
  if (!app || running) return;
  let payload, typed;
  try { ({ payload, typed } = await input(app)); } catch (err) { showError(err.message); return; }
  clearStatus();
  const box = clear($("app-result"));
  const bar = el("progress", { "aria-label": t("progress") });
  const note = el("span", { class: "note" });
  const clock = el("span", { class: "note elapsed" });
  box.append(el("div", { class: "row progress-row", role: "status" }, bar, note, clock));
  const started = performance.now();
  const tick = setInterval(() => { clock.textContent = `${((performance.now() - started) / 1000).toFixed(0)} s`; }, 500);
  running = new AbortController();
  busy(true);
  box.setAttribute("aria-busy", "true");
  try {
    const path = `/v1/apps/${app.name.split("/").map(encodeURIComponent).join("/")}`;
    const response = await request(path, { method: "POST", body: { ...payload, stream: true }, signal: running.signal });
    for await (const event of events(response)) {
      if (event.type === "progress") progress(bar, note, event);
      else if (event.type === "result") {
        bar.max = 1; bar.value = 1;
        note.dataset.i18n = "done";
        note.textContent = t("done");
        shown = { kind: app.form?.result || "table", value: event.result, typed };
        shown.node = render(shown.kind, event.result, typed);
        box.append(shown.node, raw(event.result));
      } else if (event.type === "error") {
        note.textContent = t("failed");
        box.append(el("p", { class: "failed", role: "alert" }, event.error?.message || "error",
          event.error?.hint ? ` (${event.error.hint})` : ""));
      }
    }
  } catch (err) {
    note.textContent = err.name === "AbortError" ? t("stopped") : t("failed");
    if (err.name !== "AbortError") showError(err.message + (err.hint ? ` (${err.hint})` : ""));
  } finally {
    clearInterval(tick);
    running = null;
    busy(false);
    box.setAttribute("aria-busy", "false");
  }
}

function busy(on) {
  $("app-run").disabled = on;
  $("app-cancel").hidden = !on;
  $("app-name").disabled = on;
}

function progress(bar, note, event) {
  if (event.total) { bar.max = event.total; bar.value = event.done || 0; }
  const count = event.done !== undefined && event.total ? `${event.done}/${event.total}` : "";
  note.textContent = [count, event.document, event.item, event.field, event.step, event.stage]
    .filter((x) => x !== undefined && x !== null && x !== "").join(" · ");
}

function raw(value) {
  return el("details", { class: "raw" }, el("summary", { "data-i18n": "rawJson" }, t("rawJson")),
    el("pre", {}, el("code", {}, JSON.stringify(value, null, 2))));
}
