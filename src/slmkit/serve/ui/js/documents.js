// The documents page: collections, uploads indexed by a background job (per-file results),
// questions answered with citations that open the cited passage, drop with confirmation.
import { json, request } from "./api.js";
import { $, clear, el, table } from "./dom.js";
import { onLanguage, t } from "./i18n.js";
import { watchJobs } from "./jobs.js";
import { events } from "./sse.js";
import { showError } from "./status.js";

const BATCH_BYTES = 3 * 1024 * 1024; // under the server's default 4 MiB body limit
let collections = [];
let passages = [];
let stopWatching = null;

export function init() {
  $("upload-form").addEventListener("submit", (e) => { e.preventDefault(); upload(); });
  $("ask-form").addEventListener("submit", (e) => { e.preventDefault(); ask(); });
  onLanguage(draw);
}

export async function refresh() {
  collections = (await json("/v1/rag/collections")).data;
  draw();
  watch();
}

export function leave() { stopWatching?.(); }

function watch(started = []) {
  stopWatching?.();
  stopWatching = watchJobs("ingest", $("ingest-jobs"), async () => {
    collections = (await json("/v1/rag/collections")).data;
    draw();
  }, started);
}

function draw() {
  const box = clear($("collections"));
  if (!collections.length) box.append(el("p", {}, t("noCollections")));
  else {
    box.append(table([t("collection"), t("documentsCol"), t("chunks"), t("actions")],
      collections.map((c) => [c.name, String(c.documents ?? "-"), String(c.chunks ?? "-"),
        el("button", { type: "button", class: "danger", "aria-label": `${t("drop")}: ${c.name}`,
          onclick: () => drop(c.name) }, t("drop"))])));
  }
  const select = $("ask-collection");
  const chosen = select.value;
  clear(select).append(...collections.map((c) => el("option", { value: c.name }, c.name)));
  if (collections.some((c) => c.name === chosen)) select.value = chosen;
}

async function drop(name) {
  if (!window.confirm(t("confirmDrop", { name }))) return;
  try {
    await request(`/v1/rag/${encodeURIComponent(name)}`, { method: "DELETE" });
    await refresh();
  } catch (err) { showError(err.message); }
}

/** The chosen files as {name, text}; files that are not text are reported, not sent. */
async function readFiles(files) {
  const docs = [], rejected = [];
  for (const f of files) {
    const name = f.webkitRelativePath || f.name;
    if (f.size > BATCH_BYTES) { rejected.push({ name, state: "failed", error: t("tooLarge") }); continue; }
    const text = await f.text();
    if (text.includes("\u0000")) rejected.push({ name, state: "failed", error: t("notText") });
    else docs.push({ name, text });
  }
  return { docs, rejected };
}

async function upload() {
  const collection = $("collection-name").value.trim();
  const files = [...$("files").files, ...$("folder").files];
  if (!files.length) return;
  const { docs, rejected } = await readFiles(files);
  const box = $("ingest-jobs");
  if (rejected.length) {
    box.before(el("ul", { class: "rejected" }, rejected.map((r) => el("li", { class: "file failed", "data-file": r.name },
      `${r.name}: ${r.error}`))));
  }
  let batch = [], bytes = 0;
  const batches = [];
  for (const d of docs) {
    if (batch.length && bytes + d.text.length > BATCH_BYTES) { batches.push(batch); batch = []; bytes = 0; }
    batch.push(d);
    bytes += d.text.length;
  }
  if (batch.length) batches.push(batch);
  const started = [];
  try {
    for (const b of batches) {
      started.push((await json("/v1/ui/jobs/ingest", { method: "POST", body: { collection, documents: b } })).id);
    }
  } catch (err) { showError(err.message); }
  $("files").value = "";
  $("folder").value = "";
  watch(started);
}

async function ask() {
  const name = $("ask-collection").value;
  const question = $("question").value.trim();
  if (!name || !question) return;
  const answerBox = clear($("answer"));
  clear($("passages"));
  try {
    const found = await json(`/v1/rag/${encodeURIComponent(name)}/query`, { method: "POST", body: { query: question, k: 5 } });
    passages = found.data;
    const response = await request("/v1/chat/completions", { method: "POST", body: {
      model: `rag:${name}`, stream: true, messages: [{ role: "user", content: question }] } });
    let text = "";
    for await (const event of events(response)) {
      const delta = event.choices?.[0]?.delta?.content;
      if (delta) { text += delta; answerBox.replaceChildren(withCitations(text)); }
    }
    drawPassages();
  } catch (err) { showError(err.message); }
}

/** The answer's text with each [n] a button opening passage n. */
function withCitations(text) {
  const frag = document.createDocumentFragment();
  let last = 0;
  for (const m of text.matchAll(/\[(\d+)\]/g)) {
    const n = Number(m[1]);
    frag.append(text.slice(last, m.index));
    frag.append(passages[n - 1]
      ? el("button", { type: "button", class: "cite", "data-cite": String(n), "aria-label": `${t("sources")} ${n}: ${passages[n - 1].locator}`,
        onclick: () => openPassage(n) }, `[${n}]`)
      : m[0]);
    last = m.index + m[0].length;
  }
  frag.append(text.slice(last));
  return frag;
}

function drawPassages() {
  const box = clear($("passages"));
  box.append(el("h2", {}, t("sources")));
  if (!passages.length) { box.append(el("p", {}, t("noPassages"))); return; }
  box.append(el("ol", {}, passages.map((p, i) => el("li", {},
    el("button", { type: "button", class: "cite", onclick: () => openPassage(i + 1) }, p.locator)))));
}

function openPassage(n) {
  const p = passages[n - 1];
  $("passage-h").textContent = `[${n}] ${p.locator}`;
  $("passage-text").textContent = p.text;
  $("passage-dialog").showModal();
}
