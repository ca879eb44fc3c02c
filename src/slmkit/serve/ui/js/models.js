// The models page: the store (with lineage and what is loaded), the catalog with what fits
// this machine, pulls as server-side jobs (progress survives a reload), delete, and each
// model's decode speed on this machine (last measurement and this server's recent answers).
import { json, request } from "./api.js";
import { $, clear, el, size, table } from "./dom.js";
import { currentLang, onLanguage, t } from "./i18n.js";
import { showError } from "./status.js";
import { watchJobs } from "./jobs.js";

let data = null;

export function init() {
  $("pull-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      const job = await json("/v1/ui/jobs/pull", { method: "POST", body: { model: $("pull-name").value.trim() } });
      $("pull-name").value = "";
      watch([job.id]);
    } catch (err) { showError(err.message); }
  });
  onLanguage(() => data && draw());
}

export async function refresh() {
  data = await json("/v1/ui/models");
  draw();
  watch();
}

export function leave() { stopWatching?.(); }

let stopWatching = null;
function watch(started = []) {
  stopWatching?.();
  stopWatching = watchJobs("pull", $("pull-jobs"), () => refresh(), started);
}

function draw() {
  const stored = clear($("stored"));
  if (!data.stored.length) stored.append(el("p", {}, t("noModels")));
  else {
    stored.append(table([t("name"), t("size"), t("quant"), t("params"), t("parent"), t("loaded"), t("speed"), t("actions")],
      data.stored.map((m) => [m.name, size(m.size_bytes), m.quantization || "-",
        m.parameters ? `${(m.parameters / 1e6).toFixed(0)}M` : "-",
        m.parent ? `${m.parent} (${m.method || "?"})` : "-", m.loaded ? t("yes") : t("no"),
        speedCell(m),
        el("span", { class: "row" },
          el("button", { type: "button", "aria-label": `${t("measure")}: ${m.name}`,
            onclick: (e) => measure(m.name, e.currentTarget) }, t("measure")),
          el("button", { type: "button", "aria-label": `${t(m.loaded ? "unload" : "load")}: ${m.name}`,
            onclick: () => toggle(m) }, t(m.loaded ? "unload" : "load")),
          el("button", { type: "button", class: "danger", "aria-label": `${t("delete")}: ${m.name}`,
            disabled: m.loaded, onclick: () => remove(m.name) }, t("delete")))])));
  }
  const lineage = lineageTree(data.stored);
  if (lineage) stored.append(el("h3", {}, t("lineage")), lineage);
  const catalog = clear($("catalog"));
  catalog.append(table([t("name"), t("params"), t("memory"), t("fits"), ""],
    data.catalog.map((c) => [c.name, `${(c.params / 1e9).toFixed(2)}B`, `${size(c.memory_bytes)} (${c.quant})`,
      c.fits ? t("yes") : t("no"),
      c.stored ? t("stored") : el("button", { type: "button", "aria-label": `${t("pull")}: ${c.name}`,
        onclick: () => { $("pull-name").value = c.name; $("pull-form").requestSubmit(); } }, t("pull"))])));
}

/** The store's lineage as a tree: each model under the one it was made from, with how
 * (quantize, prune, merge, …); null when no model was derived from another. */
function lineageTree(models) {
  const names = new Set(models.map((m) => m.name));
  const children = new Map();
  for (const m of models) {
    const parent = m.parent && names.has(m.parent) ? m.parent : null;
    if (!children.has(parent)) children.set(parent, []);
    children.get(parent).push(m);
  }
  if (!models.some((m) => m.parent)) return null;
  const branch = (parent, seen) => el("ul", {}, (children.get(parent) || []).map((m) => el("li", {},
    el("span", { class: "node" }, m.name), m.parent ? el("span", { class: "note" }, ` ← ${m.method || "?"}${names.has(m.parent) ? "" : ` (${m.parent})`}`) : null,
    children.has(m.name) && !seen.has(m.name) ? branch(m.name, new Set([...seen, m.name])) : null)));
  return el("div", { class: "lineage", role: "group", "aria-label": t("lineage") }, branch(null, new Set()));
}

/** The decode speed of a stored model: the last measurement (slm bench or Measure, with
 * when) and the median of this server's recent answers; "-" when neither exists. */
function speedCell(m) {
  const cell = el("div", { class: "speed", "data-model": m.name });
  if (m.speed) {
    cell.append(el("div", { class: "measured" }, el("strong", {}, `${m.speed.decode_tps.toFixed(1)} ${t("tokensPerSecond")}`),
      ` ${t(m.speed.source === "slm bench" ? "byBench" : "byMeasure")}, `,
      el("time", { datetime: new Date(m.speed.at * 1000).toISOString(), title: new Date(m.speed.at * 1000).toLocaleString() }, ago(m.speed.at))));
  }
  if (m.recent) {
    cell.append(el("div", { class: "recent note" },
      t("recentSpeed", { tps: m.recent.decode_tps.toFixed(1), n: m.recent.generations }), " ",
      el("time", { datetime: new Date(m.recent.at * 1000).toISOString() }, ago(m.recent.at))));
  }
  if (!m.speed && !m.recent) cell.append(el("span", { class: "note" }, t("notMeasured")));
  return cell;
}

/** "3 min ago" in the page's language. */
function ago(epochSeconds) {
  const s = Math.max(0, Date.now() / 1000 - epochSeconds);
  const [n, unit] = s < 60 ? [Math.round(s), "second"] : s < 3600 ? [Math.round(s / 60), "minute"]
    : s < 86400 ? [Math.round(s / 3600), "hour"] : [Math.round(s / 86400), "day"];
  return new Intl.RelativeTimeFormat(currentLang(), { numeric: "auto" }).format(-n, unit);
}

async function measure(name, button) {
  button.disabled = true;
  button.textContent = t("measuring");
  try {
    await json("/v1/ui/models/measure", { method: "POST", body: { model: name } });
    await refresh();
  } catch (err) { showError(err.message); button.disabled = false; button.textContent = t("measure"); }
}

async function toggle(m) {
  try {
    const done = await json(`/v1/ui/models/${m.loaded ? "unload" : "load"}`, { method: "POST", body: { model: m.name } });
    if (m.loaded && done.loaded) showError(t("pinned", { name: m.name }));
    await refresh();
  } catch (err) { showError(err.message); }
}

async function remove(name) {
  if (!window.confirm(t("confirmModelDelete", { name }))) return;
  try {
    await request(`/v1/ui/models/${encodeURIComponent(name)}`, { method: "DELETE" });
    await refresh();
  } catch (err) { showError(err.message); }
}
