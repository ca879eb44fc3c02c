// An app's form drawn from the fields its handler declares (core.apps.AppForm), and the
// payload read back from it (files read in the browser: documents as base64, logs as lines).
import { el } from "./dom.js";
import { currentLang, t } from "./i18n.js";

const MAX_FILE_BYTES = 3 * 1024 * 1024; // the server's body limit is 4 MiB by default

/** A declared text in the page's language ("label" → "label_ko" in Korean). */
export function said(obj, key) {
  return (currentLang() === "ko" && obj[`${key}_ko`]) || obj[key] || "";
}

/** The inputs for `form.fields` (ids `app-f-NAME`); `models`: served model names. */
export function drawFields(form, models) {
  return form.fields.map((f) => field(f, models));
}

function field(f, models) {
  const id = `app-f-${f.name}`;
  const help = said(f, "help");
  const described = help ? `${id}-help` : null;
  const label = el("label", { for: id }, said(f, "label"), f.required ? el("span", { "aria-hidden": "true" }, " *") : null);
  const hint = help ? el("small", { id: described, class: "note help" }, help) : null;
  const common = { id, name: f.name, "aria-describedby": described, "data-kind": f.kind };
  if (f.kind === "boolean") {
    return el("div", { class: "check" }, el("input", { ...common, type: "checkbox", checked: Boolean(f.default) }), label, hint);
  }
  let input;
  if (f.kind === "document" || f.kind === "log" || f.kind === "code") {
    input = el("textarea", { ...common, rows: f.kind === "document" ? "10" : "8", spellcheck: "false",
      class: f.kind === "code" ? "code-input" : null });
    const files = el("input", { id: `${id}-files`, type: "file", multiple: f.kind === "document",
      "aria-describedby": described, accept: f.kind === "log" ? ".log,.txt,.out,.jsonl,text/*" : null });
    const or = { log: "orLogFile", code: "orCodeFile" }[f.kind] || "orFiles";
    return el("div", { class: "field" }, label, input,
      el("label", { for: `${id}-files`, class: "sub" }, t(or)), files, hint);
  }
  if (f.kind === "choice") {
    input = el("select", common, f.choices.map((c) => el("option", { value: c, selected: c === f.default }, c)));
  } else if (f.kind === "model") {
    input = el("select", common, el("option", { value: "" }, t("serverDefault")),
      models.map((m) => el("option", { value: m }, m)));
  } else if (f.kind === "number") {
    input = el("input", { ...common, type: "number", min: f.minimum, max: f.maximum, value: f.default });
  } else {
    input = el("input", { ...common, type: "text", value: f.default ?? "" });
  }
  return el("div", { class: "field" }, label, input, hint);
}

/** The payload of the drawn form, and the typed documents by name (to highlight evidence
 * in them). Throws Error with a message for the user when a required input is empty. */
export async function readPayload(form) {
  const payload = {}, typed = {};
  for (const f of form.fields) {
    const input = document.getElementById(`app-f-${f.name}`);
    if (f.kind === "boolean") { payload[f.name] = input.checked; continue; }
    if (f.kind === "document") await readDocuments(f, input, payload, typed);
    else if (f.kind === "log") await readLog(f, input, payload);
    else if (f.kind === "code") await readCode(f, input, payload, form);
    else if (f.kind === "number") {
      if (input.value !== "") payload[f.name] = Number(input.value);
    } else if (input.value !== "") payload[f.name] = input.value;
    if (f.required && payload[f.name] === undefined && payload.documents === undefined) {
      input.focus();
      throw new Error(t("fieldNeeded", { name: said(f, "label") }));
    }
  }
  return { payload, typed };
}

async function readDocuments(f, input, payload, typed) {
  const files = [...document.getElementById(`${input.id}-files`).files];
  const text = input.value;
  if (!files.length) {
    if (text.trim()) { payload[f.name] = text; typed.text = text; }
    return;
  }
  const docs = [];
  if (text.trim()) { docs.push({ name: "text", text }); typed.text = text; }
  for (const file of files) {
    if (file.size > MAX_FILE_BYTES) throw new Error(`${file.name}: ${t("tooLarge")}`);
    docs.push({ name: file.name, content_base64: await base64(file) });
  }
  payload.documents = docs;
}

async function readLog(f, input, payload) {
  const [file] = document.getElementById(`${input.id}-files`).files;
  let text = input.value;
  if (file) {
    if (file.size > MAX_FILE_BYTES) throw new Error(`${file.name}: ${t("tooLarge")}`);
    text = (text ? `${text}\n` : "") + await file.text();
  }
  const lines = text.split(/\r?\n/);
  while (lines.length && lines[lines.length - 1] === "") lines.pop();
  if (lines.length) payload[f.name] = lines;
}

/** Code typed, or one file read as text (its name fills an empty `path` field). */
async function readCode(f, input, payload, form) {
  const [file] = document.getElementById(`${input.id}-files`).files;
  let text = input.value;
  if (file) {
    if (file.size > MAX_FILE_BYTES) throw new Error(`${file.name}: ${t("tooLarge")}`);
    text = await file.text();
    const path = form.fields.some((x) => x.name === "path") && document.getElementById("app-f-path");
    if (path && !path.value.trim()) payload.path = file.name;
  }
  if (text.trim()) payload[f.name] = text;
}

function base64(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).replace(/^data:[^,]*,/, ""));
    reader.onerror = () => reject(new Error(`${file.name}: ${reader.error}`));
    reader.readAsDataURL(file);
  });
}
