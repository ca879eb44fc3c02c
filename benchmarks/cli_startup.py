"""`slm --help` answers instantly: its wall time against a bare Python interpreter's start.

The claim in the README ("`slm --help` answers instantly: heavy libraries are imported only
by the verb that needs them") is tested behaviourally by
``tests/cli/test_run_chat_cli.py::test_help_imports_nothing_heavy`` (no heavy import); the
time it buys is measured here, where a busy machine makes a number noisy, not a test red.

Alternates ``python -c pass`` (the anchor), ``slm --help`` and, for scale, a bare
``import llama_cpp`` for ``--rounds`` rounds in fresh processes and compares medians.

    python benchmarks/cli_startup.py [--rounds 15]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

COMMANDS = {
    "python -c pass (anchor)": [sys.executable, "-c", "pass"],
    "slm --help": [sys.executable, "-m", "slmkit.cli.main", "--help"],
    "import llama_cpp (scale)": [sys.executable, "-c", "import llama_cpp"],
}


def wall(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - t0


def measure(rounds: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for name, cmd in COMMANDS.items():  # one warm-up each: file cache, .pyc files
        wall(cmd)
    for _ in range(rounds):
        for name, cmd in COMMANDS.items():
            times[name].append(wall(cmd))
    return times


def markdown(rows: list[dict]) -> str:
    lines = ["| command | median (ms) | p90 (ms) | × anchor |", "|---|---|---|---|"]
    lines += [f"| {r['command']} | {r['median_ms']:.1f} | {r['p90_ms']:.1f} | "
              f"{r['ratio']:.2f}× |" for r in rows]
    return "\n".join(lines) + "\n"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=15)
    p.add_argument("--no-save", action="store_true", help="print only")
    args = p.parse_args()
    times = measure(args.rounds)
    anchor = statistics.median(times["python -c pass (anchor)"])
    rows = []
    for name, values in times.items():
        median = statistics.median(values)
        p90 = sorted(values)[max(0, int(len(values) * 0.9) - 1)]
        rows.append({"command": name, "median_ms": median * 1000, "p90_ms": p90 * 1000,
                     "ratio": median / anchor})
    table = markdown(rows)
    print(table)
    if not args.no_save:
        sys.path.insert(0, str(Path(__file__).parent))
        from _common import machine, save

        path = save("cli-startup", {"rounds": args.rounds, "machine": machine(), "rows": rows},
                    table)
        print(f"saved {path}")
    print(json.dumps({r["command"]: round(r["ratio"], 2) for r in rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
