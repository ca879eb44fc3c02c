"""Router quality the RouteLLM way: weak = the default model (local, llama.cpp), strong =
qwen2.5-coder-0.5b-instruct served by our own `slm serve` over loopback, on the offline
`mixed` set (capitals + arithmetic, seeded); APGR and CPT on the held-apart half.

    python benchmarks/route_eval.py [--n 250] [--cache answers.jsonl] [--upstream URL]

Without --upstream it starts `slm serve qwen2.5-coder-0.5b-instruct` on a free port and
stops it after. Target (issue #8): APGR >= 0.65 (random is 0.5).

Several sets, more signals (issue #21; `route_sets.py` does the work):

    python benchmarks/route_eval.py answer --role weak --cache DIR    # and --role strong
    python benchmarks/route_eval.py sets --cache DIR

``answer`` runs one model over the sets (code, reading, wordproblems, korean, mmlu_chat,
mixed; resumable; run the two roles side by side), ``sets`` reports every router per set on
its held-apart half from what has been answered so far. Target: APGR >= 0.8 on each set.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests")]
from _common import machine, save

STRONG = "qwen2.5-coder-0.5b-instruct"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_strong(threads: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "slmkit.cli.main", "serve", STRONG,
                             "--port", str(port), "--ctx", "1024", "--parallel", "1",
                             "--threads", str(threads)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(900):
        if proc.poll() is not None:
            raise RuntimeError(f"slm serve {STRONG} exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url + "/ready", timeout=2) as r:
                if r.status == 200:
                    return proc, url + "/v1"
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise RuntimeError("the strong model's server did not become ready")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] in ("answer", "sets"):
        import route_sets

        return route_sets.main(sys.argv[1:])
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=250)
    p.add_argument("--data", default="mixed")
    p.add_argument("--cache", help="answers cache (resumable)")
    p.add_argument("--upstream", help="a running strong server's /v1 URL")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    out_dir = Path(tempfile.mkdtemp(prefix="route-eval-"))
    proc, url = (None, args.upstream) if args.upstream else start_strong(args.threads)
    try:
        cmd = [sys.executable, "-m", "slmkit.cli.main", "route", "eval", "--data", args.data,
               "--limit", str(args.n), "--format", "generate", "--upstream", url,
               "--upstream-model", STRONG, "--threads", str(args.threads), "--json",
               "--chart", str(out_dir / "route-eval.png"),
               "--cache", args.cache or str(out_dir / "answers.jsonl")]
        t0 = time.time()
        done = subprocess.run(cmd, capture_output=True, text=True, check=False,
                              env=dict(os.environ, PYTHONPATH=str(ROOT / "src")))
        if done.returncode != 0:
            raise SystemExit(done.stderr)
        report = json.loads(done.stdout)
        report["seconds"] = round(time.time() - t0, 1)
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=30)
    report["machine"] = machine()
    chart = Path(report.pop("chart") or "")
    path = save("route-eval", report, markdown(report))
    if chart.exists():
        (path.parent / "route-eval-2026-11-28.png").write_bytes(chart.read_bytes())
    print(markdown(report))


def markdown(r: dict) -> str:
    lines = ["# Router evaluation (APGR / CPT)", "",
             f"Set `{r['data']}` (n={r['n']}; thresholds and the difficulty model fit on "
             f"{r['n_train']}, numbers on the held-apart {r['n_test']}). Weak "
             f"`{r['weak']}` {r['weak_accuracy']:.1%}, strong `{r['strong']}` "
             f"{r['strong_accuracy']:.1%} (answers generated greedily, matched to the "
             "correct choice).", "",
             "| router | APGR | CPT(50%) | CPT(80%) | calibrated for PGR 0.8: escalated | "
             "accuracy | PGR |", "|---|---|---|---|---|---|---|"]
    for x in r["routers"]:
        c = x.get("calibrated") or {}
        f = lambda v, pct=False: "-" if v is None else (f"{v:.1%}" if pct else f"{v:.3f}")
        lines.append(f"| {x['router']} | {f(x['apgr'])} | {f(x['cpt50'], True)} | "
                     f"{f(x['cpt80'], True)} | {f(c.get('escalated_share'), True)} | "
                     f"{f(c.get('quality'), True)} | {f(c.get('pgr'))} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
