// Background jobs (pull, ingest) shown with progress; they run on the server, so a reload
// finds them again through GET /v1/ui/jobs.
import { json } from "./api.js";
import { clear, el, size } from "./dom.js";
import { t } from "./i18n.js";

/** Poll jobs of `kind` into `box` until none runs; `onDone` when one finishes (`started`:
 * ids of jobs just started here, so one that finished before the first poll counts too).
 * Returns a stop function. */
export function watchJobs(kind, box, onDone, started = []) {
  let timer = null, stopped = false;
  const seen = new Map(started.map((id) => [id, "running"]));
  async function tick() {
    let jobs = [];
    try { jobs = (await json("/v1/ui/jobs")).data.filter((j) => j.kind === kind); } catch { return; }
    if (stopped) return;
    clear(box);
    for (const job of jobs.slice(0, 10)) box.append(jobNode(job));
    let finished = false;
    for (const job of jobs) {
      if (seen.get(job.id) === "running" && job.state !== "running") finished = true;
      seen.set(job.id, job.state);
    }
    if (finished) onDone?.();
    if (jobs.some((j) => j.state === "running")) timer = setTimeout(tick, 400);
  }
  tick();
  return () => { stopped = true; clearTimeout(timer); };
}

function jobNode(job) {
  const pct = job.progress === null ? null : Math.round(job.progress * 100);
  const d = job.detail || {};
  const bytes = d.bytes_done !== undefined ? ` ${size(d.bytes_done)}${d.bytes_total ? ` / ${size(d.bytes_total)}` : ""}` : "";
  const node = el("div", { class: "job", "data-job": job.id, "data-state": job.state },
    el("strong", {}, job.title), " ",
    el("progress", { max: "100", value: pct === null ? null : String(pct), "aria-label": `${job.title} ${t(job.state)}` }),
    ` ${t(job.state)}${pct === null ? "" : ` ${pct}%`}${bytes}`,
    job.error ? el("div", { class: "failed", role: "alert" }, job.error) : null);
  if (d.files) {
    node.append(el("ul", {}, d.files.map((f) => el("li", { class: `file ${f.state}`, "data-file": f.name },
      `${f.name}: ${t(f.state)}`, f.chunks ? ` (${f.chunks} ${t("chunks")})` : "", f.error ? ` — ${f.error}` : ""))));
  }
  return node;
}
