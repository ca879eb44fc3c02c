"""One-shot `slm rag query` end to end, each run a fresh process (issue 14 item 5: ≤ 1.5 s).

    SLM_HOME=/tmp/realhome python benchmarks/rag_cli.py [--runs 7]

Two collections of the runbook set are ingested, one with the old default embedder
(all-MiniLM-L6-v2 through sentence-transformers on torch: the "before") and one with the new
default (its int8 ONNX Runtime variant: the "after"); then `slm rag query` runs against
each, alternating, and the median wall time of the whole process is reported, beside the
anchors measured in the same run: an empty Python start and `--mode bm25` (no embedder).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _common import machine, save

QUESTION = "What should I do about printer error TN-3480?"
BEFORE, AFTER = "all-minilm-l6-v2", "all-minilm-l6-v2-int8"


def _slm(*args: str) -> list[str]:
    return [sys.executable, "-m", "slmkit.cli.main", *args]


def _time(cmd: list[str]) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()
    from slmkit.rag.runbooks import write_runbooks

    docs, _ = write_runbooks(Path(tempfile.mkdtemp(prefix="slm-rag-cli-")))
    cases = {"python -c pass": [sys.executable, "-c", "pass"]}
    for label, emb in (("before", BEFORE), ("after", AFTER)):
        name = f"bench-cli-{label}"
        subprocess.run(_slm("rag", "drop", name), capture_output=True)
        subprocess.run(_slm("rag", "ingest", name, str(docs), "--embedder", emb), check=True,
                       capture_output=True)
        threads = ["--threads", str(args.threads)] if args.threads else []
        cases[f"query, {label} ({emb})"] = _slm("rag", "query", name, QUESTION, *threads)
    cases["query --mode bm25 (no embedder)"] = _slm("rag", "query", "bench-cli-after",
                                                    QUESTION, "--mode", "bm25")
    times: dict[str, list[float]] = {k: [] for k in cases}
    try:
        for _ in range(args.runs):
            for label, cmd in cases.items():
                times[label].append(_time(cmd))
    finally:
        for label in ("before", "after"):
            subprocess.run(_slm("rag", "drop", f"bench-cli-{label}"), capture_output=True)
    res = {k: {"median_s": round(statistics.median(v), 3), "min_s": round(min(v), 3),
               "runs_s": [round(x, 3) for x in v]} for k, v in times.items()}
    payload = {"machine": machine(), "load_average": os.getloadavg(), "runs": args.runs,
               "question": QUESTION, "results": res}
    lines = [f"# One-shot `slm rag query` ({time.strftime('%Y-%m-%d')})", "",
             (f"Fresh process per run, {args.runs} runs each, interleaved; shared "
              f"machine (load average at the end "
              f"{', '.join(f'{x:.1f}' for x in payload['load_average'])}). Target ≤ 1.5 s."),
             "", "| command | median | min |", "|---|---|---|"]
    lines += [f"| {k} | {v['median_s']} s | {v['min_s']} s |" for k, v in res.items()]
    md = "\n".join(lines) + "\n"
    path = save("rag-cli", payload, md)
    print(md)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
