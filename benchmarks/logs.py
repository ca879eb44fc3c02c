"""Log parsing, anomaly detection and explanation, against their anchors in the same run.

Parsing (Loghub-2k, ten systems with corrected templates): GA, PA, FGA, FTA per system for
slmkit's Drain and drain3 (the anchor) with the same Loghub preprocessing regexes and Drain
settings, and lines/s for each — best of ``--repeat`` runs per system, alternating the two
parsers. Lines/s is counted in CPU time of the one process (one core): on a shared machine
the wall clock also counts the other processes' turns (both are saved; take the ratio). Published anchors
(Loghub / Loghub-2.0 papers): Drain GA HDFS 0.998, BGL 0.963, Linux 0.69; Loghub-2.0 Drain
averages GA 0.84, PA 0.47; LLM parsers (LILAC, DivLog) GA ≈ PA ≈ 0.9.

Detection (bgl-anomaly/BGL_first1000.log, 96 labelled alert lines): precision, recall, F1
per line and per 20-line window for slmkit, Isolation Forest and PCA (loglizer's settings,
scikit-learn) on the same events; published unsupervised F1 on HDFS/BGL sessions: PCA 0.77,
Isolation Forest 0.80. With ``--model``, explanations: model calls per 1,000 lines and
seconds per explanation (``--explain-limit`` anomalies).

Template correction (``--correct MODEL``): our Drain, then each final template rewritten by
the model into Loghub's convention and kept only when it matches all the group's lines;
GA/PA/FGA/FTA without and with it, model calls per 1,000 lines and seconds, per system
(``--correct-systems``, smallest first by default; each row is printed as it finishes).

    python benchmarks/logs.py [--data ../shared/data] [--repeat 3] [--model NAME]
    python benchmarks/logs.py --only correct --correct qwen2.5-coder-0.5b-instruct \
        --correct-systems Apache,HDFS
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from _common import machine, save

from slmkit.apps.logs.detect_eval import evaluate_detection, load_labelled, run_ours
from slmkit.apps.logs.evaluate import (
    drain3_parser,
    load_loghub,
    ours,
    run_corrected,
    run_parser,
)

ANCHOR_GA = {"HDFS": 0.998, "BGL": 0.963, "Linux": 0.69}
PARSERS = {"slmkit": ours, "drain3": drain3_parser}


def parsing(root: Path, repeat: int) -> dict:
    rows: dict[str, dict] = {}
    for system in sorted(p.name for p in root.iterdir() if p.is_dir()):
        log = load_loghub(root / system)
        row: dict[str, dict] = {}
        for _ in range(repeat):
            for name, make in PARSERS.items():
                parse, final = make(system)
                m = run_parser(parse, log, final=final)
                best = row.get(name)
                if best is None or m["cpu_lines_per_s"] > best["cpu_lines_per_s"]:
                    row[name] = m
        rows[system] = row
        print(f"{system:12s} " + "  ".join(
            f"{n} GA {m['GA']:.3f} PA {m['PA']:.3f} {m['cpu_lines_per_s']:8.0f}/s"
            for n, m in row.items()), flush=True)
    return rows


def totals(rows: dict, lines_per_system: dict) -> dict:
    out = {}
    for name in PARSERS:
        secs = sum(lines_per_system[s] / r[name]["cpu_lines_per_s"] for s, r in rows.items())
        wall = sum(lines_per_system[s] / r[name]["lines_per_s"] for s, r in rows.items())
        out[name] = {
            "cpu_lines_per_s": sum(lines_per_system.values()) / secs,
            "lines_per_s": sum(lines_per_system.values()) / wall,
            **{k: statistics.mean(r[name][k] for r in rows.values())
               for k in ("GA", "PA", "FGA", "FTA")}}
    return out


SMALLEST_FIRST = ("Apache", "HDFS", "Spark", "HPC", "BGL", "Hadoop", "Linux", "Thunderbird",
                  "HealthApp", "OpenStack")  # by Drain's template count on Loghub-2k


def _engine(model: str, threads: int):
    from slmkit.models.load import load, resolve

    return load(resolve(model, pull=False), n_ctx=4096, n_threads=threads)


def explain_cost(path: Path, model: str, limit: int | None, threads: int) -> dict:
    from slmkit.apps.logs.explain import Explainer, explain_records

    lines, _ = load_labelled(path)
    recs, _ = run_ours(lines, "bgl")
    engine = _engine(model, threads)
    try:
        ex = Explainer(engine)
        t = time.perf_counter()
        found = explain_records(recs, ex, limit=limit)
        seconds = time.perf_counter() - t
    finally:
        engine.close()
    return {"model": model, "lines": ex.stats.lines, "anomalies": ex.stats.anomalies,
            "model_calls": ex.stats.model_calls, "cache_hits": ex.stats.cache_hits,
            "model_calls_per_1000_lines": ex.stats.per_1000_lines(), "seconds": seconds,
            "seconds_per_call": seconds / ex.stats.model_calls if ex.stats.model_calls else None,
            "limit": limit, "explanations": found}


def correction(root: Path, model: str, systems: list[str], threads: int) -> dict:
    """Per system: ours without and with template correction (printed as each finishes)."""
    from slmkit.apps.logs.correct import TemplateCorrector

    engine = _engine(model, threads)
    rows = {}
    try:
        for system in systems:
            log = load_loghub(root / system)
            parse, final = ours(system)
            plain = run_parser(parse, log, final=final)
            corrector = TemplateCorrector(engine)
            fixed = run_corrected(system, log, corrector)
            rows[system] = {"drain": plain, "corrected": fixed,
                            "stats": corrector.stats.to_dict(),
                            "corrections": corrector.cache, "answers": corrector.answers}
            print(f"{system:12s} PA {plain['PA']:.3f} -> {fixed['PA']:.3f}  FTA "
                  f"{plain['FTA']:.3f} -> {fixed['FTA']:.3f}  calls {fixed['model_calls']} "
                  f"({fixed['calls_per_1000_lines']:.1f}/1k lines) {fixed['seconds']:.0f} s "
                  f"{corrector.stats.to_dict()}", flush=True)
    finally:
        engine.close()
    return rows


def correction_markdown(rows: dict, model: str) -> list[str]:
    out = ["", f"Template correction with {model} (busy machine):", "",
           "| system | GA | PA Drain | PA corrected | FTA Drain | FTA corrected | "
           "model calls | calls / 1,000 lines | online calls / 1,000 lines | accepted | "
           "seconds |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for s, r in rows.items():
        a, b, st = r["drain"], r["corrected"], r["stats"]
        out.append(f"| {s} | {a['GA']:.3f} | {a['PA']:.3f} | {b['PA']:.3f} | {a['FTA']:.3f} | "
                   f"{b['FTA']:.3f} | {b['model_calls']} | {b['calls_per_1000_lines']:.1f} | "
                   f"{b['online_calls_per_1000_lines']:.1f} | {st['accepted']} of "
                   f"{st['calls']} | {b['seconds']:.0f} |")
    return out


def markdown(rows: dict, tot: dict, det: dict | None, expl: dict | None) -> str:
    if not rows:
        return _det_expl_markdown(det, expl)
    out = ["| system | GA ours | GA drain3 | published Drain GA | PA ours | PA drain3 | "
           "FGA ours | FTA ours | lines/s ours (CPU) | lines/s drain3 (CPU) | ratio |",
           "|---|---|---|---|---|---|---|---|---|---|---|"]
    for s, r in rows.items():
        a, b = r["slmkit"], r["drain3"]
        out.append(f"| {s} | {a['GA']:.3f} | {b['GA']:.3f} | {ANCHOR_GA.get(s, '')} | "
                   f"{a['PA']:.3f} | {b['PA']:.3f} | {a['FGA']:.3f} | {a['FTA']:.3f} | "
                   f"{a['cpu_lines_per_s']:,.0f} | {b['cpu_lines_per_s']:,.0f} | "
                   f"{a['cpu_lines_per_s'] / b['cpu_lines_per_s']:.2f}× |")
    a, b = tot["slmkit"], tot["drain3"]
    out.append(f"| **all** | {a['GA']:.3f} | {b['GA']:.3f} | 0.84 (Loghub-2.0 avg) | "
               f"{a['PA']:.3f} | {b['PA']:.3f} | {a['FGA']:.3f} | {a['FTA']:.3f} | "
               f"{a['cpu_lines_per_s']:,.0f} | {b['cpu_lines_per_s']:,.0f} | "
               f"{a['cpu_lines_per_s'] / b['cpu_lines_per_s']:.2f}× |")
    out.append(f"\nWall clock over all ten systems (busy machine): ours "
               f"{a['lines_per_s']:,.0f} lines/s, drain3 {b['lines_per_s']:,.0f} "
               f"({a['lines_per_s'] / b['lines_per_s']:.2f}×).")
    return "\n".join(out) + "\n" + _det_expl_markdown(det, expl)


def _det_expl_markdown(det: dict | None, expl: dict | None) -> str:
    out: list[str] = []
    if det:
        out += ["", f"Detection on BGL_first1000 ({det['anomalies']} anomalous lines of "
                f"{det['lines']}; detect {det['lines_per_s']:,} lines/s):", "",
                "| method | line P | line R | line F1 | window (20) F1 |", "|---|---|---|---|---|"]
        for name, m in det["methods"].items():
            out.append(f"| {name} | {m['line']['precision']:.3f} | {m['line']['recall']:.3f} "
                       f"| {m['line']['f1']:.3f} | {m['window']['f1']:.3f} |")
    if expl:
        per = expl["seconds_per_call"]
        out += ["", f"Explanations with {expl['model']}: {expl['model_calls']} model calls "
                f"for {expl['anomalies']} anomalies in {expl['lines']} lines = "
                f"{expl['model_calls_per_1000_lines']:.1f} per 1,000 lines "
                f"({expl['seconds']:.1f} s, "
                + (f"{per:.1f} s per explanation)." if per else "no model call).")]
    return "\n".join(out) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[1].parent
                                          / "shared" / "data"))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--model", default=None, help="also measure explanations with this model")
    ap.add_argument("--explain-limit", type=int, default=None,
                    help="explain only the first N anomalies (default: all)")
    ap.add_argument("--correct", default=None, metavar="MODEL",
                    help="also measure template correction with this model")
    ap.add_argument("--correct-systems", default=",".join(SMALLEST_FIRST))
    ap.add_argument("--threads", type=int, default=1, help="model threads (default 1)")
    ap.add_argument("--only", default="", help="comma-separated parts: parse, detect, "
                                               "explain, correct (default: all asked for)")
    args = ap.parse_args()
    data = Path(args.data)
    only = set(filter(None, args.only.split(",")))
    want = (lambda part: not only or part in only)  # noqa: E731
    rows, tot = {}, {}
    if want("parse"):
        rows = parsing(data / "loghub-2k", args.repeat)
        sizes = {s: len(load_loghub(data / "loghub-2k" / s).contents) for s in rows}
        tot = totals(rows, sizes)
    bgl = data / "bgl-anomaly" / "BGL_first1000.log"
    det = evaluate_detection(bgl) if want("detect") else None
    expl = explain_cost(bgl, args.model, args.explain_limit, args.threads) \
        if args.model and want("explain") else None
    fixed = correction(data / "loghub-2k", args.correct, args.correct_systems.split(","),
                       args.threads) if args.correct and want("correct") else None
    md = markdown(rows, tot, det, expl)
    if fixed:
        md += "\n".join(correction_markdown(fixed, args.correct)) + "\n"
    print(md)
    name = "logs" if not only else "logs-" + "-".join(sorted(only))
    path = save(name, {"machine": machine(), "note": "busy machine: compare ratios",
                       "parsing": rows, "totals": tot, "detection": det,
                       "explain": expl, "correction": fixed}, md)
    print(f"saved {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
