"""The torch engine against the llama.cpp engine (the anchor) on the default model.

Each configuration runs in a fresh process (``slmkit.evaluate.speed``: load time includes
importing the backend, peak RSS is the model's own); configurations alternate for
``--rounds`` rounds and each metric's median is compared. Metrics: load time, prompt
tokens/s at 128 and 512 tokens, decode tokens/s (greedy, 128 tokens), time to first
token of a short chat request, peak RSS.

    python benchmarks/engines.py [--model NAME|PATH] [--threads 2] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))


def main() -> int:
    from _common import machine, save

    from slmkit.evaluate.speed import METRICS, BenchConfig, run_isolated
    from slmkit.models.store import Store

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="smollm2-135m-instruct")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--repeat", type=int, default=3, help="repetitions inside each process")
    args = p.parse_args()
    store = Store()
    ref = store.resolve(args.model)
    configs = [BenchConfig(ref.name, ref.path, engine, args.threads, 2048, 128, args.repeat)
               for engine in ("llamacpp", "torch")]
    if store.has(f"{ref.name}-hf"):  # made by eval_protocol.py / `slm convert --to hf`
        hf = store.get(f"{ref.name}-hf")
        configs.append(BenchConfig(hf.name, hf.path, "torch", args.threads, 2048, 128,
                                   args.repeat))
    runs: dict[str, list[dict]] = {c.label: [] for c in configs}
    for r in range(args.rounds):
        for c in configs if r % 2 == 0 else configs[::-1]:
            res = run_isolated(c)
            runs[c.label].append(res.metrics)
            print(f"round {r + 1}/{args.rounds} {c.label}: decode "
                  f"{res.metrics['decode_tps']:.1f} tok/s, load {res.metrics['load_seconds']:.2f} s",
                  flush=True)
    labels = [c.label for c in configs]
    table = {}
    for key, *_ in METRICS:
        med = {label: statistics.median(m[key] for m in runs[label]) for label in labels}
        table[key] = {label: {"median": v, "ratio": v / med[labels[0]]}
                      for label, v in med.items()}
    md = _markdown(table, labels, args, machine())
    print("\n" + md)
    payload = {"benchmark": "engines", "model": ref.name, "threads": args.threads,
               "rounds": args.rounds, "machine": machine(), "median": table, "runs": runs}
    print(f"saved {save('engines', payload, md)}")
    return 0


def _markdown(table: dict, labels: list[str], args, m: dict) -> str:
    from slmkit.evaluate.speed import METRICS

    lines = [f"engines benchmark · {args.model} · {args.threads} threads · median of "
             f"{args.rounds} fresh processes × {args.repeat} repetitions · {m['cpu']}, "
             f"{m['physical_cores']} cores; ratios against {labels[0]}", "",
             "| metric | " + " | ".join(labels) + " |", "|---" * (len(labels) + 1) + "|"]
    for key, label, unit, better in METRICS:
        cells = [f"{table[key][x]['median']:.3g}" + ("" if i == 0 else
                                                     f" ({table[key][x]['ratio']:.2f}×)")
                 for i, x in enumerate(labels)]
        lines.append(f"| {label} ({unit}, {better} is better) | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
