// The models page: the store (with lineage and what is loaded), the catalog with what fits
// this machine, pulls as server-side jobs (progress survives a reload), delete.
import { json, request } from "./api.js";
import { $, clear, el, size, table } from "./dom.js";
import { onLanguage, t } from "./i18n.js";
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
    stored.append(table([t("name"), t("size"), t("quant"), t("params"), t("parent"), t("loaded"), t("actions")],
      data.stored.map((m) => [m.name, size(m.size_bytes), m.quantization || "-",
        m.parameters ? `${(m.parameters / 1e6).toFixed(0)}M` : "-",
        m.parent ? `${m.parent} (${m.method || "?"})` : "-", m.loaded ? t("yes") : t("no"),
        el("span", { class: "row" },
          el("button", { type: "button", "aria-label": `${t(m.loaded ? "unload" : "load")}: ${m.name}`,
            onclick: () => toggle(m) }, t(m.loaded ? "unload" : "load")),
          el("button", { type: "button", class: "danger", "aria-label": `${t("delete")}: ${m.name}`,
            disabled: m.loaded, onclick: () => remove(m.name) }, t("delete")))])));
  }
  const catalog = clear($("catalog"));
  catalog.append(table([t("name"), t("params"), t("memory"), t("fits"), ""],
    data.catalog.map((c) => [c.name, `${(c.params / 1e9).toFixed(2)}B`, `${size(c.memory_bytes)} (${c.quant})`,
      c.fits ? t("yes") : t("no"),
      c.stored ? t("stored") : el("button", { type: "button", "aria-label": `${t("pull")}: ${c.name}`,
        onclick: () => { $("pull-name").value = c.name; $("pull-form").requestSubmit(); } }, t("pull"))])));
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
