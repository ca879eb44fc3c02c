"""One table of every recorded benchmark: its ratios against the anchors measured in the same
run, and its change since the previous recorded run; one chart per benchmark.

Reads ``benchmarks/results/*.json``. A result file is ``<series>-<YYYY-MM-DD>.json``; the
runs of one series are ordered by that date (then by the ``date`` field inside). For each
series the latest run is compared with the one before it. Each benchmark kind has an
extractor below that picks its headline metrics; a file of an unknown kind that carries a
``ratios`` mapping is reported by those ratios, others are skipped.

    python benchmarks/report.py                 # table on stdout, charts into results/
    python benchmarks/report.py --no-charts --only serve,cold-start
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
STAMP = re.compile(r"^(?P<series>.+)-(?P<date>\d{4}-\d{2}-\d{2})\.json$")


@dataclass(frozen=True)
class Metric:
    """One headline number of a run; ``anchor_ratio`` is ours ÷ the anchor in that run."""

    name: str
    value: float
    better: str  # "higher" or "lower"
    anchor: str | None = None
    anchor_ratio: float | None = None


@dataclass(frozen=True)
class Run:
    series: str
    date: str  # the file's date, then the payload's date-time when it has one
    path: Path
    payload: dict


# ---- extractors: payload -> headline metrics -------------------------------------------
def decode_metrics(p: dict) -> list[Metric]:
    med = p["median"]
    cpp = med.get("llama_bench_tg")
    tps = med["decode_tokens_per_second"]
    out = [Metric("decode tok/s", tps["ours"], "higher", *(
        ("llama-bench tg", cpp["ratio"]) if cpp else ("llama-cpp-python", tps["ratio"])))]
    for key, label, better in (("load_seconds", "load s", "lower"),
                               ("ttft_seconds", "TTFT s", "lower"),
                               ("peak_rss_mb", "peak RSS MB", "lower")):
        if key in med:
            out.append(Metric(label, med[key]["ours"], better, "llama-cpp-python",
                              med[key]["ratio"]))
    return out


def serve_metrics(p: dict) -> list[Metric]:
    ratios, out = p.get("ratios", {}), []
    for row in p["results"].get("slmkit", []):
        c = row["clients"]
        anchor, ratio = _first_ratio(ratios, [("llama-server", f"tokens_per_s_vs_llama-server@{c}"),
                                              ("llama_cpp.server",
                                               f"tokens_per_s_vs_llama_cpp.server@{c}"),
                                              ("llama_cpp.server",
                                               f"tokens_per_s_vs_llama_cpp_server@{c}")])
        out.append(Metric(f"tok/s @{c} clients", row["tokens_per_s"], "higher", anchor, ratio))
        if row.get("ttft_p95_s") is not None:
            anchor, ratio = _first_ratio(ratios, [("llama-server", f"ttft_p95_vs_llama-server@{c}")])
            out.append(Metric(f"TTFT p95 s @{c}", row["ttft_p95_s"], "lower", anchor, ratio))
    rss = (p.get("peak_rss_mb") or {}).get("slmkit")
    if rss:
        out.append(Metric("peak RSS MB", rss, "lower", "llama-server",
                          ratios.get("peak_rss_vs_llama-server")))
    return out


def cold_start_metrics(p: dict) -> list[Metric]:
    ratios, out = p.get("ratios", {}), []
    anchors = {"slm serve ready": "llama-server", "slm run": "python"}
    for row in p["rows"]:
        name = row["command"]
        if name in anchors:
            out.append(Metric(f"{name} s", row["median_s"], "lower", anchors[name],
                              ratios.get(f"{name} vs_{anchors[name]}")))
            out.append(Metric(f"{name} CPU s", row["cpu_median_s"], "lower", anchors[name],
                              ratios.get(f"{name} cpu vs_{anchors[name]}")))
    return out


def cli_startup_metrics(p: dict) -> list[Metric]:
    return [Metric(f"{r['command']} ms", r["median_ms"], "lower", "python -c pass", r["ratio"])
            for r in p["rows"] if "anchor" not in r["command"]]


def speculate_metrics(p: dict) -> list[Metric]:
    return [Metric(f"{task} tok/s", r["auto_tps"], "higher", "no speculation", r["ratio"])
            for task, r in p["results"].items()]


def rag_scale_metrics(p: dict) -> list[Metric]:
    """benchmarks/rag_ann.py: hybrid and BM25 p95 (anchors: exact dense, FTS5), recall."""
    hy, ex = p["hybrid_ann_warm"]["p95_ms"], p["hybrid_exact"]["p95_ms"]
    out = [Metric("hybrid p95 ms (warm)", hy, "lower", "exact dense", hy / ex),
           Metric("dense recall@10", p["recall@10"], "higher")]
    if "bm25_index" in p:
        bi, fts = p["bm25_index"]["p95_ms"], p["bm25"]["p95_ms"]
        out.insert(1, Metric("BM25 p95 ms", bi, "lower", "FTS5 bm25()", bi / fts))
    return out


def ratio_metrics(p: dict) -> list[Metric]:
    """Any other result with a ``ratios`` mapping: each ratio is a metric (higher better)."""
    return [Metric(k, float(v), "higher") for k, v in p["ratios"].items()
            if isinstance(v, (int, float)) and not isinstance(v, bool)]


EXTRACTORS = {"decode": decode_metrics, "serve": serve_metrics, "cold_start": cold_start_metrics,
              "cli-startup": cli_startup_metrics, "speculate": speculate_metrics,
              "rag-ann": rag_scale_metrics, "rag-ann-100k": rag_scale_metrics,
              "rag-ann-1000k": rag_scale_metrics}


def _first_ratio(ratios: dict, keys: list[tuple[str, str]]) -> tuple[str | None, float | None]:
    for anchor, key in keys:
        if key in ratios:
            return anchor, ratios[key]
    return None, None


def metrics_of(run: Run) -> list[Metric]:
    kind = run.payload.get("benchmark") or run.series
    extract = EXTRACTORS.get(kind) or EXTRACTORS.get(run.series)
    try:
        if extract is not None:
            return extract(run.payload)
        if isinstance(run.payload.get("ratios"), dict):
            return ratio_metrics(run.payload)
    except (KeyError, TypeError, ValueError):  # an older layout of the same benchmark
        return []
    return []


# ---- runs, comparison, table -----------------------------------------------------------
def load_runs(results: Path = RESULTS) -> dict[str, list[Run]]:
    """Every ``<series>-<date>.json`` under ``results``, by series, oldest first."""
    series: dict[str, list[Run]] = {}
    for path in sorted(results.glob("*.json")):
        m = STAMP.match(path.name)
        if not m:
            continue
        try:
            payload = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if not isinstance(payload, dict):
            continue
        inner = str(payload.get("date", ""))
        date = m["date"] + (inner[10:] if inner.startswith(m["date"]) else "")
        series.setdefault(m["series"], []).append(Run(m["series"], date, path, payload))
    for runs in series.values():
        runs.sort(key=lambda r: r.date)
    return series


def setup(run: Run) -> tuple:
    """What must match for two runs to be compared: the model and the thread count."""
    p = run.payload
    cfg = p.get("config") or {}
    return (p.get("model") or cfg.get("model"), p.get("threads") or cfg.get("threads"))


def compare(runs: list[Run]) -> list[dict]:
    """Rows for the latest run of a series: each metric, its anchor ratio, and latest ÷
    previous (the latest earlier run of the same series, model and threads that holds the
    metric; runs of another setup are not compared)."""
    latest = runs[-1]
    previous = {}
    for run in reversed(runs[:-1]):
        if setup(run) != setup(latest):
            continue
        for m in metrics_of(run):
            previous.setdefault(m.name, (run, m))
    rows = []
    for m in metrics_of(latest):
        prev_run, prev = previous.get(m.name, (None, None))
        change = m.value / prev.value if prev is not None and prev.value else None
        rows.append({"series": latest.series, "date": latest.date, "metric": m.name,
                     "value": m.value, "better": m.better, "anchor": m.anchor,
                     "anchor_ratio": m.anchor_ratio,
                     "previous": prev.value if prev else None,
                     "previous_date": prev_run.date if prev_run else None,
                     "previous_anchor_ratio": prev.anchor_ratio if prev else None,
                     "change": change, "verdict": _verdict(change, m.better),
                     "busy": bool((latest.payload.get("machine") or {}).get("busy"))})
    return rows


def _verdict(change: float | None, better: str, tolerance: float = 0.05) -> str:
    """"better"/"worse" when the change is past ``tolerance`` in that direction, else "same"."""
    if change is None:
        return "new"
    gain = change - 1 if better == "higher" else 1 - change
    return "better" if gain > tolerance else "worse" if gain < -tolerance else "same"


def table(rows: list[dict]) -> str:
    lines = ["| benchmark | run | metric | value | ÷ anchor (same run) | previous run | "
             "÷ previous | |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        anchor = (f"{r['anchor_ratio']:.2f}× {r['anchor']}" if r["anchor_ratio"] is not None
                  else "–")
        prev = f"{_num(r['previous'])} ({r['previous_date']})" if r["previous"] is not None else "–"
        change = f"{r['change']:.2f}×" if r["change"] is not None else "–"
        busy = " (busy)" if r["busy"] else ""
        lines.append(f"| {r['series']} | {r['date']}{busy} | {r['metric']} | {_num(r['value'])} "
                     f"| {anchor} | {prev} | {change} | {r['verdict']} |")
    return "\n".join(lines) + "\n"


def _num(x: float) -> str:
    return f"{x:.3g}" if abs(x) < 1000 else f"{x:.0f}"


# ---- charts ----------------------------------------------------------------------------
def chart(series: str, rows: list[dict], out_dir: Path) -> Path | None:
    """A horizontal bar chart per benchmark: each metric's ratio against its anchor in the
    latest and the previous run (a line at 1.0); metrics without an anchor show latest ÷
    previous instead, and a benchmark with neither its values."""
    if not rows:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels, latest, previous = [], [], []
    for r in rows:
        if r["anchor_ratio"] is not None:
            labels.append(f"{r['metric']} ÷ {r['anchor']}")
            latest.append(r["anchor_ratio"])
            previous.append(r["previous_anchor_ratio"])
        elif r["change"] is not None:
            labels.append(f"{r['metric']} ÷ previous run")
            latest.append(r["change"])
            previous.append(None)
    xlabel = "ratio (1.0 = same as the anchor / the previous run)"
    if not labels:  # nothing to compare with yet: the values themselves
        labels = [r["metric"] for r in rows]
        latest, previous = [r["value"] for r in rows], [None] * len(rows)
        xlabel = "value (no anchor, no previous run of this setup)"
    height = 0.38
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(labels) + 1.4))
    ys = range(len(labels))
    ax.barh([y + height / 2 for y in ys], latest, height, label=f"latest ({rows[0]['date']})")
    prev_x = [p if p is not None else 0 for p in previous]
    if any(p is not None for p in previous):
        ax.barh([y - height / 2 for y in ys], prev_x, height, label="previous run", alpha=0.6)
    if xlabel.startswith("ratio"):
        ax.axvline(1.0, color="black", linewidth=0.8)
    ax.set_yticks(list(ys), labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    busy = " — busy machine" if rows[0]["busy"] else ""
    ax.set_title(f"{series}{busy}", fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    path = out_dir / f"chart-{series}.png"
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--results", type=Path, default=RESULTS)
    p.add_argument("--only", default=None, help="comma-separated series names")
    p.add_argument("--no-charts", action="store_true")
    args = p.parse_args(argv)
    wanted = set(args.only.split(",")) if args.only else None
    all_rows = []
    for series, runs in sorted(load_runs(args.results).items()):
        if wanted and series not in wanted:
            continue
        rows = compare(runs)
        all_rows += rows
        if rows and not args.no_charts:
            path = chart(series, rows, args.results)
            if path:
                print(f"chart: {path}", file=sys.stderr)
    print(table(all_rows), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
