// An app's result rendered for people (per the form's `result` kind): summaries, reviews
// with their evidence highlighted in the document, log templates/anomalies/explanations,
// code; anything else as headings and tables. Every value goes in as text.
import { el, table } from "./dom.js";
import { t } from "./i18n.js";

const EVIDENCE = /evidence|quote|span|excerpt|source|clause/i;
const CODE = /patch|diff|code|completion|output/i;

/** A node for `value` rendered as `kind`; `typed`: the documents typed in the form. */
export function render(kind, value, typed = {}) {
  const draw = { summaries, reviews, log_records: logRecords, log_anomalies: logAnomalies,
    log_explanations: logExplanations, code }[kind] || generic;
  return el("div", { class: "app-output", "data-result": kind }, draw(value || {}, typed), errors(value));
}

function summaries(value) {
  return (value.results || []).map((r) => el("article", { class: "doc-result" },
    el("h2", {}, r.document),
    el("p", { class: "note" }, meta(r)),
    el("h3", {}, t("summary")), el("div", { class: "summary" }, r.summary),
    section(t("keyFacts"), r.key_facts, [t("fact"), t("evidence"), t("line")],
      (f) => [f.fact, el("mark", {}, f.source), where(f.location)]),
    section(t("actionItems"), r.action_items, [t("task"), t("owner"), t("due"), t("line")],
      (a) => [a.task, a.owner || "-", a.due || "-", where(a.location)]),
    section(t("flags"), r.flags, [t("kind"), t("text"), t("note")], (f) => [f.kind, f.text, f.note || ""])));
}

function reviews(value, typed) {
  return (value.results || []).map((r) => {
    const fields = Object.entries(r.fields || {});
    const spans = fields.filter(([, f]) => f.status === "found" && f.location)
      .map(([name, f]) => ({ start: f.location.start, end: f.location.end, name }));
    const source = typed[r.document];
    return el("article", { class: "doc-result" },
      el("h2", {}, r.document), el("p", { class: "note" }, meta(r)),
      section(t("fields"), fields, [t("field"), t("status"), t("value"), t("evidence"), t("line")],
        ([name, f]) => [name, el("span", { class: `fstatus ${f.status}` }, t(f.status === "found" ? "found" : "notFound")),
          f.value ?? (f.proposed ? `(${f.proposed})` : "-"),
          f.evidence ? el("mark", {}, f.evidence) : (f.reason || "-"), where(f.location)]),
      section(t("risks"), r.risks, [t("kind"), t("why"), t("clause")],
        (k) => [k.kind, k.why, k.clause ? el("mark", {}, k.clause) : "-"]),
      source && spans.length ? el("details", { class: "source", open: true },
        el("summary", {}, t("documentWithEvidence")), highlighted(source, spans)) : null);
  });
}

function logRecords(value) {
  return [el("p", { class: "note" }, t("templatesSeen", { n: value.templates ?? 0 })),
    section(t("events"), value.records, [t("line"), t("level"), t("template"), t("params")],
      (r) => [String(r.line), r.level || "-", el("code", {}, r.template), (r.params || []).join(", ")])];
}

function logAnomalies(value) {
  const counts = Object.entries(value.counts || {});
  return [el("p", { class: "note" }, t("eventsChecked", { n: value.events ?? 0, a: (value.anomalies || []).filter((r) => r.anomaly).length })),
    counts.length ? section(t("byType"), counts, [t("kind"), t("count")], ([k, n]) => [k, String(n)]) : null,
    section(t("anomalies"), value.anomalies, [t("line"), t("score"), t("kind"), t("template"), t("content")],
      (r) => [String(r.line), String(r.score), (r.types || []).join(", ") || "-", el("code", {}, r.template),
        r.anomaly ? el("mark", {}, r.content) : r.content], t("noAnomalies"))];
}

function logExplanations(value) {
  return [el("p", { class: "note" }, t("modelCalls", { n: value.model_calls ?? 0, c: value.cache_hits ?? 0, e: value.events ?? 0 })),
    section(t("anomalies"), value.explanations, [t("line"), t("kind"), t("template"), t("explanation")],
      (r) => [String(r.line), (r.types || []).join(", "), el("code", {}, r.template), r.explanation || "-"], t("noAnomalies"))];
}

/** Code and patches as code blocks; everything else as in `generic`. */
function code(value) {
  return Object.entries(value).flatMap(([key, v]) => (typeof v === "string" && CODE.test(key)
    ? el("section", {}, el("h2", {}, key), el("pre", {}, el("code", {}, v)))
    : generic({ [key]: v })));
}

/** Any JSON object as headings and tables. */
function generic(value) {
  const out = [];
  for (const [key, v] of Object.entries(value || {})) {
    if (key === "errors" || key === "object") continue;
    out.push(el("h2", {}, key));
    if (Array.isArray(v) && v.length && v.every(isObject)) {
      const columns = [...new Set(v.flatMap((row) => Object.keys(row)))];
      out.push(table(columns, v.map((row) => columns.map((c) => cell(c, row[c])))));
    } else if (isObject(v)) {
      out.push(table([t("what"), t("value")], Object.entries(v).map(([k, x]) => [k, cell(k, x)])));
    } else if (Array.isArray(v)) {
      out.push(el("ul", {}, v.map((x) => el("li", {}, cell(key, x)))));
    } else out.push(el("p", { class: "app-text" }, cell(key, v)));
  }
  return out;
}

/** The documents that could not be read, as a table with the server's hint. */
function errors(value) {
  const errs = value?.errors;
  if (!Array.isArray(errs) || !errs.length) return null;
  return el("div", { class: "failed", role: "alert" },
    section(t("unreadable"), errs, [t("document"), t("error"), t("hint")], (e) => [e.document, e.error, e.hint || ""]));
}

/** `text` with the [start, end) code-point spans marked (titled with their field). */
export function highlighted(text, spans) {
  const chars = Array.from(text);
  const pre = el("pre", { class: "passage evidence" });
  let at = 0;
  for (const s of [...spans].sort((a, b) => a.start - b.start)) {
    if (s.start < at || s.end > chars.length) continue; // overlapping or outside: skip
    pre.append(chars.slice(at, s.start).join(""), el("mark", { title: s.name, "data-field": s.name }, chars.slice(s.start, s.end).join("")));
    at = s.end;
  }
  pre.append(chars.slice(at).join(""));
  return pre;
}

function section(title, rows, headers, row, empty = null) {
  if (!rows || !rows.length) return empty ? el("section", {}, el("h3", {}, title), el("p", {}, empty)) : null;
  return el("section", {}, el("h3", {}, title), table(headers, rows.map(row)));
}

function meta(r) {
  const parts = [r.model, r.language, r.seconds !== undefined ? `${r.seconds} s` : null, r.split?.strategy, r.mode];
  return parts.filter(Boolean).join(" · ");
}

function where(loc) {
  if (!loc) return "-";
  return [loc.page ? `p.${loc.page}` : null, loc.line ? String(loc.line) : null].filter(Boolean).join(" ") || "-";
}

function isObject(v) { return v !== null && typeof v === "object" && !Array.isArray(v); }

function cell(key, v) {
  if (v === null || v === undefined) return "-";
  if (typeof v === "object") return el("code", {}, JSON.stringify(v));
  if (typeof v === "string" && CODE.test(key) && v.includes("\n")) return el("pre", {}, el("code", {}, v));
  return EVIDENCE.test(key) ? el("mark", {}, String(v)) : String(v);
}
