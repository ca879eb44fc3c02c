// The operations page: small live charts (SVG, no library) fed by GET /v1/ui/metrics.
import { json } from "./api.js";
import { $, clear, el, size, table } from "./dom.js";
import { t } from "./i18n.js";

const SVG = "http://www.w3.org/2000/svg";
const POINTS = 60;
const series = {};
let last = null, timer = null;

const CHARTS = [
  ["tps", (s, prev) => prev ? Math.max(0, (s.counters.completion_tokens - prev.counters.completion_tokens) / (s.time - prev.time)) : 0],
  ["queue", (s) => s.models.reduce((a, m) => a + (m.queue_depth || 0), 0)],
  ["busy", (s) => s.models.reduce((a, m) => a + (m.busy_slots || 0), 0)],
  ["ttftP50", (s) => s.percentiles.time_to_first_token_seconds.p50],
  ["ttftP95", (s) => s.percentiles.time_to_first_token_seconds.p95],
  ["latP95", (s) => s.percentiles.request_duration_seconds.p95],
  ["requests", (s) => s.counters.requests],
];

export function init() {}

export async function refresh() {
  await tick();
}

export function leave() { clearTimeout(timer); timer = null; }

async function tick() {
  clearTimeout(timer);
  const [snap, ops] = await Promise.all([json("/v1/ui/metrics"), json("/v1/ui/operations")]);
  for (const [key, value] of CHARTS) {
    const v = value(snap, last);
    (series[key] ||= []).push(v === null || v === undefined ? 0 : v);
    if (series[key].length > POINTS) series[key].shift();
  }
  last = snap;
  draw(snap);
  drawOperations(ops);
  if (!$("page-operations").hidden) timer = setTimeout(() => tick().catch(() => {}), 2000);
}

function draw(snap) {
  const box = clear($("charts"));
  for (const [key] of CHARTS) {
    const values = series[key];
    const v = values[values.length - 1];
    box.append(el("figure", { class: "chart", "data-chart": key, "data-points": values.length },
      el("h2", {}, t(key)),
      el("div", { class: "value" }, Number.isInteger(v) ? String(v) : v.toFixed(3)),
      spark(values, t(key))));
  }
  clear($("ops-models")).append(table([t("name"), t("queue"), t("busy"), t("memory")],
    snap.models.map((m) => [m.name, String(m.queue_depth ?? 0), `${m.busy_slots ?? 0} / ${m.slots ?? "?"}`,
      size(m.model_memory_bytes)])));
}

function spark(values, label) {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", `0 0 ${POINTS} 30`);
  svg.setAttribute("preserveAspectRatio", "none");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", label);
  const max = Math.max(...values, 1e-9);
  const base = document.createElementNS(SVG, "line");
  for (const [k, v] of Object.entries({ x1: 0, y1: 29, x2: POINTS, y2: 29, class: "base" })) base.setAttribute(k, v);
  base.setAttribute("vector-effect", "non-scaling-stroke");
  svg.append(base);
  const line = document.createElementNS(SVG, "polyline");
  line.setAttribute("points", values.map((v, i) => `${i},${(30 - (v / max) * 28 - 1).toFixed(2)}`).join(" "));
  line.setAttribute("vector-effect", "non-scaling-stroke");
  svg.append(line);
  return svg;
}

/** Routing decisions and costs from the ledger, and what the guard did: counts only. */
function drawOperations(ops) {
  const box = clear($("ops-extra"));
  box.append(el("h2", {}, t("routing")));
  const r = ops.routing;
  if (!r) box.append(el("p", {}, t("noRouting")));
  else {
    const routes = Object.entries(r.routes).map(([k, v]) => `${k}: ${v}`).join(", ") || "-";
    const reasons = Object.entries(r.reasons).map(([k, v]) => `${k}: ${v}`).join(", ") || "-";
    box.append(table([t("what"), t("value")], [
      [t("requests"), String(r.requests)], [t("routes"), routes], [t("reasons"), reasons],
      [t("escalated"), `${(r.escalated_share * 100).toFixed(1)}%`],
      [t("remoteCost"), `$${r.remote_cost_usd.toFixed(4)}`],
      [t("savings"), `$${r.savings_usd.toFixed(4)}`],
      [t("overhead"), `${r.router_overhead_ms.p50} / ${r.router_overhead_ms.p95} ms`]]));
  }
  box.append(el("h2", {}, t("guard")));
  const g = ops.guard;
  if (!g) box.append(el("p", {}, t("noRouting")));
  else {
    box.append(table([t("what"), t("value")], [
      [t("maskedValues"), String(g.masked_values)], [t("keptLocal"), String(g.kept_local)],
      [t("blocked"), String(g.blocked)]]));
  }
}
