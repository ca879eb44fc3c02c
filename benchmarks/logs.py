"""Log parsing, anomaly detection and explanation, against their anchors in the same run.

Parsing (Loghub-2k, ten systems with corrected templates): GA, PA, FGA, FTA per system for
slmkit's Drain and drain3 (the anchor) with the same Loghub preprocessing regexes and Drain
settings, and lines/s for each — best of ``--repeat`` runs per system, alternating the two
parsers (the machine is shared: take the ratio, not the absolute number). Published anchors
(Loghub / Loghub-2.0 papers): Drain GA HDFS 0.998, BGL 0.963, Linux 0.69; Loghub-2.0 Drain
averages GA 0.84, PA 0.47; LLM parsers (LILAC, DivLog) GA ≈ PA ≈ 0.9.

Detection (bgl-anomaly/BGL_first1000.log, 96 labelled alert lines): precision, recall, F1
per line and per 20-line window for slmkit, Isolation Forest and PCA (loglizer's settings,
scikit-learn) on the same events; published unsupervised F1 on HDFS/BGL sessions: PCA 0.77,
Isolation Forest 0.80. With ``--model``, explanations: model calls per 1,000 lines.

    python benchmarks/logs.py [--data ../shared/data] [--repeat 3] [--model NAME]
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
from slmkit.apps.logs.evaluate import drain3_parser, load_loghub, ours, run_parser

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
                if best is None or m["lines_per_s"] > best["lines_per_s"]:
                    row[name] = m
        rows[system] = row
        print(f"{system:12s} " + "  ".join(
            f"{n} GA {m['GA']:.3f} PA {m['PA']:.3f} {m['lines_per_s']:8.0f}/s"
            for n, m in row.items()), flush=True)
    return rows


def totals(rows: dict, lines_per_system: dict) -> dict:
    out = {}
    for name in PARSERS:
        secs = sum(lines_per_system[s] / r[name]["lines_per_s"] for s, r in rows.items())
        out[name] = {
            "lines_per_s": sum(lines_per_system.values()) / secs,
            **{k: statistics.mean(r[name][k] for r in rows.values())
               for k in ("GA", "PA", "FGA", "FTA")}}
    return out


def explain_cost(path: Path, model: str) -> dict:
    from slmkit.apps.logs.explain import Explainer, explain_records
    from slmkit.models.load import load, resolve

    lines, _ = load_labelled(path)
    recs, _ = run_ours(lines, "bgl")
    engine = load(resolve(model, pull=False), n_ctx=4096, n_threads=2)
    try:
        ex = Explainer(engine)
        t = time.perf_counter()
        found = explain_records(recs, ex)
        seconds = time.perf_counter() - t
    finally:
        engine.close()
    return {"model": model, "lines": ex.stats.lines, "anomalies": ex.stats.anomalies,
            "model_calls": ex.stats.model_calls, "cache_hits": ex.stats.cache_hits,
            "model_calls_per_1000_lines": ex.stats.per_1000_lines(), "seconds": seconds,
            "example": found[0] if found else None}


def markdown(rows: dict, tot: dict, det: dict, expl: dict | None) -> str:
    out = ["| system | GA ours | GA drain3 | published Drain GA | PA ours | PA drain3 | "
           "FGA ours | FTA ours | lines/s ours | lines/s drain3 | ratio |",
           "|---|---|---|---|---|---|---|---|---|---|---|"]
    for s, r in rows.items():
        a, b = r["slmkit"], r["drain3"]
        out.append(f"| {s} | {a['GA']:.3f} | {b['GA']:.3f} | {ANCHOR_GA.get(s, '')} | "
                   f"{a['PA']:.3f} | {b['PA']:.3f} | {a['FGA']:.3f} | {a['FTA']:.3f} | "
                   f"{a['lines_per_s']:,.0f} | {b['lines_per_s']:,.0f} | "
                   f"{a['lines_per_s'] / b['lines_per_s']:.2f}× |")
    a, b = tot["slmkit"], tot["drain3"]
    out.append(f"| **all** | {a['GA']:.3f} | {b['GA']:.3f} | 0.84 (Loghub-2.0 avg) | "
               f"{a['PA']:.3f} | {b['PA']:.3f} | {a['FGA']:.3f} | {a['FTA']:.3f} | "
               f"{a['lines_per_s']:,.0f} | {b['lines_per_s']:,.0f} | "
               f"{a['lines_per_s'] / b['lines_per_s']:.2f}× |")
    out += ["", f"Detection on BGL_first1000 ({det['anomalies']} anomalous lines of "
            f"{det['lines']}; detect {det['lines_per_s']:,} lines/s):", "",
            "| method | line P | line R | line F1 | window (20) F1 |", "|---|---|---|---|---|"]
    for name, m in det["methods"].items():
        out.append(f"| {name} | {m['line']['precision']:.3f} | {m['line']['recall']:.3f} | "
                   f"{m['line']['f1']:.3f} | {m['window']['f1']:.3f} |")
    if expl:
        out += ["", f"Explanations with {expl['model']}: {expl['model_calls']} model calls "
                f"for {expl['anomalies']} anomalies in {expl['lines']} lines = "
                f"{expl['model_calls_per_1000_lines']:.1f} per 1,000 lines "
                f"({expl['seconds']:.1f} s)."]
    return "\n".join(out) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[1].parent
                                          / "shared" / "data"))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--model", default=None, help="also measure explanations with this model")
    args = ap.parse_args()
    data = Path(args.data)
    rows = parsing(data / "loghub-2k", args.repeat)
    sizes = {s: len(load_loghub(data / "loghub-2k" / s).contents) for s in rows}
    tot = totals(rows, sizes)
    det = evaluate_detection(data / "bgl-anomaly" / "BGL_first1000.log")
    expl = explain_cost(data / "bgl-anomaly" / "BGL_first1000.log", args.model) \
        if args.model else None
    md = markdown(rows, tot, det, expl)
    print(md)
    path = save("logs", {"machine": machine(), "note": "busy machine: compare ratios",
                         "parsing": rows, "totals": tot, "detection": det,
                         "explain": expl}, md)
    print(f"saved {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
