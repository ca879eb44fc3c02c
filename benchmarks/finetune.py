"""Training throughput and peak memory: LoRA vs full fine-tuning (and QLoRA, and LoRA on
the top layers only) on the default model, each in a fresh process, in one run.

Every method trains on the same examples (Wikipedia passages as prompt → continuation,
``--seq`` words each side) with the same batch; the first step is a warm-up and the
median tokens/s of the following ``--steps`` steps is reported, with the process's peak
RSS. Full fine-tuning is the anchor: the table prints each method's ratio to it.

    SLM_HOME=/tmp/realhome python benchmarks/finetune.py [--steps 3] [--batch 4] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

METHODS = {"full": {"method": "full"}, "lora": {"method": "lora"},
           "qlora": {"method": "qlora"}, "lora-top10": {"method": "lora", "layers": 10}}


def _data(path: Path, n: int, words: int) -> Path:
    from slmkit.evaluate import datasets as D

    rows = []
    for text in D.load_texts(D.resolve("wikipedia")):
        w = text.split()
        if len(w) >= 2 * words:
            rows.append({"prompt": "Continue: " + " ".join(w[:words]),
                         "completion": " ".join(w[words:2 * words])})
        if len(rows) == n:
            break
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def child(args) -> None:
    import torch

    from slmkit.adapt.lora import LoraSettings
    from slmkit.adapt.train import TrainConfig, finetune, peak_rss_mb
    from slmkit.models.store import Store

    torch.set_num_threads(args.threads)
    spec = METHODS[args.method]
    ref = Store().resolve(args.model)
    with tempfile.TemporaryDirectory() as tmp:
        data = _data(Path(tmp) / "train.jsonl", args.batch * (args.steps + 1), args.seq)
        cfg = TrainConfig(output=str(Path(tmp) / "out"), method=spec["method"],
                          lora=LoraSettings(layers=spec.get("layers")),
                          max_steps=args.steps + 1, batch_size=args.batch, max_seq_len=512,
                          threads=args.threads, warmup=0.0)
        t0 = time.perf_counter()
        try:
            r = finetune(ref.path, str(data), cfg, base_sha256=ref.sha256)
        except Exception as err:  # noqa: BLE001 - reported as the row's result
            print(json.dumps({"method": args.method, "error": f"{type(err).__name__}: {err}"}))
            return
    steps = [h for h in r.history if "loss" in h][1:]
    print(json.dumps({"method": args.method,
                      "tokens_per_second": statistics.median(h["tokens_per_second"]
                                                             for h in steps),
                      "peak_rss_mb": peak_rss_mb(), "trainable_params": r.trainable_params,
                      "total_params": r.total_params, "wall_seconds": time.perf_counter() - t0,
                      "tokens_per_step": r.train["tokens"] / max(1, r.train["examples"])
                      * args.batch}))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="smollm2-135m-instruct")
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--seq", type=int, default=30, help="words of prompt and of answer")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--child", action="store_true")
    ap.add_argument("--method", default="lora")
    args = ap.parse_args()
    if args.child:
        child(args)
        return
    from _common import machine, run_child, save

    rows = []
    for method in args.methods.split(","):
        print(f"{method} …", flush=True)
        rows.append(run_child(__file__, ["--method", method, "--model", args.model,
                                         "--steps", str(args.steps), "--batch",
                                         str(args.batch), "--seq", str(args.seq),
                                         "--threads", str(args.threads)]))
        print("  ", rows[-1], flush=True)
    anchor = next((r for r in rows if r["method"] == "full" and "error" not in r), None)
    for r in rows:
        if anchor and "error" not in r:
            r["speed_vs_full"] = r["tokens_per_second"] / anchor["tokens_per_second"]
            r["memory_vs_full"] = r["peak_rss_mb"] / anchor["peak_rss_mb"]
    payload = {"machine": machine(), "model": args.model, "steps": args.steps,
               "batch": args.batch, "threads": args.threads, "rows": rows}
    md = _markdown(payload)
    print(md)
    print(f"saved {save('finetune-speed', payload, md)}")


def _markdown(p: dict) -> str:
    lines = [f"# Fine-tuning throughput and memory ({p['model']}, CPU)", "",
             f"{p['machine']['cpu']}, {p['threads']} torch threads, batch {p['batch']}, "
             f"median of {p['steps']} steps after a warm-up; each method in a fresh process.",
             "", "| method | tokens/s | × full | peak RSS MB | × full | trainable params |",
             "|---|---|---|---|---|---|"]
    for r in p["rows"]:
        if "error" in r:
            lines.append(f"| {r['method']} | failed: {r['error'][:80]} | | | | |")
            continue
        lines.append(f"| {r['method']} | {r['tokens_per_second']:.0f} | "
                     f"{r.get('speed_vs_full', 0):.2f} | {r['peak_rss_mb']:.0f} | "
                     f"{r.get('memory_vs_full', 0):.2f} | {r['trainable_params']:,} |")
    lines += ["", "Command: `SLM_HOME=/tmp/realhome python benchmarks/finetune.py`", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
