"""Proof on a real task: LoRA fine-tuning the default model to classify where a text comes
from, with our own label set, in a fixed output format — offline, on CPU.

The task: a 30-word passage and the instruction "Reply with one label: ENCYCLOPEDIA,
WEB, PLAY or QUIZ". Passages come from packaged data (``evaluate.datasets``): Wikipedia
(ENCYCLOPEDIA), OpenWebText (WEB), Shakespeare (PLAY) and MMLU question stems (QUIZ).
Train and held-apart examples come from disjoint documents (Wikipedia/OWT/MMLU: first
80% of the records vs the rest; Shakespeare: first 80% of the text vs the rest).

Measured on the held-apart examples, all through llama.cpp:

1. the base model (Q4_1 as pulled) — accuracy (greedy answer == label), answer PPL,
   task-text PPL (``evaluate.perplexity``, 256-token chunks);
2. base + the LoRA adapter GGUF applied at run time (adapter-on-base);
3. the merged model (dequantize → merge in float → requantize) as Q8_0 and Q4_K_M;
   their task-text PPL relative to adapter-on-base (target: within 0.5%).

    SLM_HOME=/tmp/realhome python benchmarks/finetune_task.py [--train 240] [--eval 100]
        [--epochs 3] [--layers 10] [--threads 2]

LoRA adapts only the top ``--layers`` layers by default here so the backward pass stops
there (this 2-core machine is shared; see docs/adapt.md for the full-depth numbers).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

LABELS = {"wikipedia": "ENCYCLOPEDIA", "owt": "WEB", "shakespeare": "PLAY", "mmlu": "QUIZ"}
INSTRUCTION = "Source of the text? Reply with one label: ENCYCLOPEDIA, WEB, PLAY or QUIZ."
WORDS = 30


def _window(text: str, rng: random.Random, words: int = WORDS) -> str | None:
    toks = text.split()
    if len(toks) < 12:
        return None
    start = rng.randrange(0, max(1, len(toks) - words))
    return " ".join(toks[start:start + words])


def _passages(source: str, rng: random.Random, train_part: bool, n: int) -> list[str]:
    from slmkit.evaluate import datasets as D

    if source == "mmlu":
        docs = [json.loads(line)["question"].split("\nA.")[0]
                for line in D.resolve("mmlu").path.read_text().splitlines() if line.strip()]
    else:
        docs = D.load_texts(D.resolve(source))
    if source == "shakespeare":  # one long text: cut it, then split by position
        text = docs[0]
        cut = int(len(text) * 0.8)
        part = text[:cut] if train_part else text[cut:]
        out = []
        while len(out) < n:
            at = rng.randrange(0, len(part) - 2000)
            w = _window(part[at:at + 2000], rng)
            if w:
                out.append(w)
        return out
    cut = int(len(docs) * 0.8)
    pool = docs[:cut] if train_part else docs[cut:]
    rng.shuffle(pool)
    out = [w for w in (_window(d, rng) for d in pool) if w]
    if len(out) < n:
        raise SystemExit(f"{source}: only {len(out)} passages for {n}")
    return out[:n]


def build(out_dir: Path, n_train: int, n_eval: int, seed: int = 0) -> tuple[Path, Path]:
    """Write train.jsonl and eval.jsonl (balanced over the labels) into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for split, n, part in (("train", n_train, True), ("eval", n_eval, False)):
        rng = random.Random(f"{seed}-{split}")
        rows = []
        for source, label in LABELS.items():
            for passage in _passages(source, rng, part, n // len(LABELS)):
                rows.append({"messages": [{"role": "system", "content": INSTRUCTION},
                                          {"role": "user", "content": passage},
                                          {"role": "assistant", "content": label}]})
        rng.shuffle(rows)
        path = out_dir / f"{split}.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
        paths.append(path)
    return paths[0], paths[1]


def _measure(path: str, records, *, threads: int, adapter: str | None = None) -> dict:
    from slmkit.adapt.evaluate import measure
    from slmkit.runtime import load_engine

    eng = load_engine(path, n_ctx=1024, n_threads=threads,
                      adapters={"tuned": adapter} if adapter else None)
    t0 = time.perf_counter()
    try:
        view = eng.with_adapter("tuned") if adapter else eng
        out = measure(view, records)
    finally:
        eng.close()
    out["seconds"] = round(time.perf_counter() - t0, 1)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="smollm2-135m-instruct")
    ap.add_argument("--train", type=int, default=240)
    ap.add_argument("--eval", type=int, default=100)
    ap.add_argument("--epochs", type=float, default=3.0)
    ap.add_argument("--rank", type=int, default=8)
    ap.add_argument("--layers", type=int, default=10)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--reuse", action="store_true",
                    help="reuse the adapter already trained in --work (measure again)")
    ap.add_argument("--threads", type=int, default=2, help="torch threads (training)")
    ap.add_argument("--llama-threads", type=int, default=1,
                    help="llama.cpp threads (evaluation; 1 is steadier on a shared machine)")
    ap.add_argument("--work", default="/tmp/slm-finetune-task")
    args = ap.parse_args()

    import torch
    from _common import machine, save

    from slmkit.adapt.data import read_records
    from slmkit.adapt.export import export_adapter_gguf
    from slmkit.adapt.lora import LoraSettings
    from slmkit.adapt.merge import merge
    from slmkit.adapt.train import TrainConfig, finetune
    from slmkit.models.store import Store

    torch.set_num_threads(args.threads)
    work = Path(args.work)
    ref = Store().resolve(args.model)
    train_path, eval_path = build(work / "data", args.train, args.eval)
    records = read_records(eval_path)
    val_path = work / "data" / "val.jsonl"  # a slice of the held-apart set for the loss curve
    val_path.write_text("".join(eval_path.read_text().splitlines(keepends=True)[:24]))
    rows: dict[str, dict] = {}
    print("measuring the base model …", flush=True)
    rows["base (Q4_1, as pulled)"] = _measure(ref.path, records, threads=args.llama_threads)
    print(json.dumps(rows["base (Q4_1, as pulled)"])[:300], flush=True)

    print("training LoRA …", flush=True)
    config = TrainConfig(output=str(work / "lora"), method="lora", epochs=args.epochs,
                         lr=args.lr, lora=LoraSettings(rank=args.rank, alpha=2.0 * args.rank,
                                                       layers=args.layers),
                         batch_size=8, max_seq_len=256, threads=args.threads, eval_every=10)
    report = work / "lora" / "train-result.json"
    if args.reuse and report.is_file():
        result = json.loads(report.read_text())
    else:
        result = finetune(ref.path, str(train_path), config, eval_path=str(val_path),
                          base_name=ref.name, base_sha256=ref.sha256,
                          progress=lambda e: print("  ", {k: round(v, 4) if isinstance(
                              v, float) else v for k, v in e.items()}, flush=True)).to_dict()
        report.write_text(json.dumps(result, indent=2))
    from slmkit.adapt.lora import float_dir

    hf = float_dir(ref.path, ref.sha256)
    adapter = export_adapter_gguf(work / "lora", hf, work / "lora" / "adapter.gguf",
                                  overwrite=True)
    rows["base + LoRA adapter (llama.cpp, run time)"] = _measure(
        ref.path, records, threads=args.llama_threads, adapter=str(adapter))
    merged = {}
    for qtype in ("Q8_0", "Q4_K_M"):
        t0 = time.perf_counter()
        out = merge(ref.path, work / "lora", work / f"merged-{qtype}.gguf", out_type=qtype,
                    base_sha256=ref.sha256)
        merged[qtype] = round(time.perf_counter() - t0, 1)
        rows[f"merged {qtype}"] = _measure(str(out), records, threads=args.llama_threads)
    anchor = rows["base + LoRA adapter (llama.cpp, run time)"]
    for r in rows.values():
        r["text_ppl_vs_adapter"] = (r["text_ppl"] / anchor["text_ppl"] - 1) if r["text_ppl"] \
            else None
    payload = {"machine": machine(), "model": ref.name, "task": {
        "labels": LABELS, "instruction": INSTRUCTION, "train": args.train, "eval": args.eval,
        "rank": args.rank, "layers": args.layers, "epochs": args.epochs, "lr": args.lr},
        "training": {k: v for k, v in result.items() if k != "history"},
        "history": result["history"], "merge_seconds": merged, "rows": rows}
    md = _markdown(payload)
    print(md)
    path = save("finetune", payload, md)
    print(f"saved {path}")


def _markdown(p: dict) -> str:
    t = p["training"]
    lines = [f"# Fine-tuning proof: source classification ({p['model']})", "",
             f"Machine: {p['machine']['cpu']}, {p['machine']['physical_cores']} cores. "
             f"{p['task']['train']} train / {p['task']['eval']} held-apart examples "
             "(disjoint documents), 4 labels (chance 25%).",
             f"LoRA rank {p['task']['rank']} on the top {p['task']['layers']} layers, "
             f"{p['task']['epochs']:g} epochs, lr {p['task']['lr']:g}: "
             f"{t['steps']} steps, {t['seconds']:.0f} s, "
             f"{t['tokens_per_second']:.0f} tokens/s, peak RSS {t['peak_rss_mb']:.0f} MB.", "",
             "| model | accuracy | answer PPL | task-text PPL | Δ PPL vs adapter-on-base |",
             "|---|---|---|---|---|"]
    for name, r in p["rows"].items():
        d = r.get("text_ppl_vs_adapter")
        lines.append(f"| {name} | {r['accuracy']:.1%} ± {r['accuracy_se']:.1%} | "
                     f"{r['answer_ppl']:.3f} | {r['text_ppl']:.4f} | "
                     f"{'' if d is None else f'{d:+.2%}'} |")
    lines += ["", f"Command: `SLM_HOME=/tmp/realhome python benchmarks/finetune_task.py "
                  f"{' '.join(sys.argv[1:])}`", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
