"""A 25% structured prune alone vs prune + logit distillation, against the unpruned model.

On the default model (SmolLM2-135M-Instruct): the teacher/reference is its dequantized
float32 self (``GGUF Q4_1 → HF``), or with ``--teacher offgrid`` part A's off-grid
reference (``<model>-offgrid-hf``). In one run:

1. depth prune 25% of the decoder layers (Block-Influence ranking on calibration text);
2. logit distillation (forward KL, T=1) of the reference into the pruned student, short;
3. also a 50% unstructured Wanda prune, to show what unstructured sparsity does on CPU;
4. every model as an F16 GGUF in llama.cpp: decode tokens/s (greedy, 128 tokens, same
   threads, rounds interleaved, median) and perplexity on held-apart Wikipedia text (the
   first part of the dataset; calibration and training use the rest).

Reports the decode speed-up vs the unpruned F16 model and the share of the PPL lost by
pruning that distillation recovers: ``(PPL_pruned - PPL_distilled) / (PPL_pruned - PPL_dense)``.

    SLM_HOME=/tmp/realhome python benchmarks/prune_distill.py [--steps 40] [--threads 2]

Targets (issue 5): ≥ 20% faster decode, ≥ 90% of the pruning PPL loss recovered.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

HELD_CHARS = 60_000  # held-apart evaluation text: the first characters of the dataset


def _say(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def reference_dir(store, model: str, work: Path, teacher: str = "original") -> tuple[str, str]:
    """(HF directory of the teacher/reference, what it is)."""
    from slmkit.convert import gguf_to_hf

    offgrid = f"{model}-offgrid-hf"
    if teacher == "offgrid" and store.has(offgrid):
        return store.get(offgrid).path, f"{offgrid} (part A's off-grid reference)"
    target = work / "reference-hf"
    if not (target / "model.safetensors").is_file():
        gguf_to_hf(store.resolve(model).path, target, overwrite=True)
    return str(target), f"{model} dequantized to float32 (GGUF Q4_1 → HF)"


def decode_speeds(paths: dict[str, str], threads: int, rounds: int, n_gen: int) -> dict:
    """Median decode tokens/s per model, rounds interleaved over the models."""
    from slmkit.core.types import GREEDY, GenerateRequest, collect
    from slmkit.runtime import load_engine

    rates: dict[str, list[float]] = {k: [] for k in paths}
    engines = {k: load_engine(p, n_ctx=512, n_threads=threads) for k, p in paths.items()}
    try:
        for e in engines.values():  # warm-up
            collect(e.generate(GenerateRequest(prompt="Hello", max_tokens=4, sampling=GREEDY)))
        for _ in range(rounds):
            for k, e in engines.items():
                req = GenerateRequest(prompt="Once upon a time, in a small town by a river,",
                                      max_tokens=n_gen, sampling=GREEDY, stop=())
                done = collect(e.generate(req))
                rates[k].append(done.usage.decode_tokens_per_second)
    finally:
        for e in engines.values():
            e.close()
    return {k: statistics.median(v) for k, v in rates.items()}


def perplexities(paths: dict[str, str], text: str, chunks: int, threads: int) -> dict:
    from slmkit.evaluate.perplexity import perplexity
    from slmkit.runtime import load_engine

    out = {}
    for k, p in paths.items():
        e = load_engine(p, n_ctx=512, n_threads=threads)
        try:
            out[k] = perplexity(e, text, max_chunks=chunks).to_dict()
        finally:
            e.close()
    return out


def main() -> None:
    from _common import machine, save

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="smollm2-135m-instruct")
    p.add_argument("--ratio", type=float, default=0.25, help="share of layers dropped")
    p.add_argument("--steps", type=int, default=30, help="distillation optimizer steps")
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--seq", type=int, default=128, help="distillation sequence length")
    p.add_argument("--calib", type=int, default=8, help="calibration sequences of 256 tokens")
    p.add_argument("--chunks", type=int, default=8, help="perplexity chunks of 512 tokens")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--gen", type=int, default=64)
    p.add_argument("--work", default=None, help="scratch directory (default: store tmp)")
    p.add_argument("--bf16", action="store_true", help="distill under bfloat16 autocast")
    p.add_argument("--seed", type=int, default=0, help="distillation data order")
    p.add_argument("--student-from", metavar="HF_DIR",
                   help="continue distilling this student (an earlier run's final/hf of the "
                        "same prune) instead of the freshly pruned model")
    p.add_argument("--prior-tokens", type=int, default=0,
                   help="tokens that earlier run trained on (reported in the total)")
    p.add_argument("--prior-steps", type=int, default=0, help="steps of that earlier run")
    p.add_argument("--teacher", choices=("original", "offgrid"), default="original",
                   help="the dequantized original, or part A's off-grid reference")
    p.add_argument("--no-save", action="store_true")
    args = p.parse_args()

    import torch

    from slmkit.compress import prune as unstructured
    from slmkit.compress import structured
    from slmkit.compress.distill import DistillConfig, distill
    from slmkit.convert import hf_to_gguf
    from slmkit.evaluate import datasets
    from slmkit.models.store import Store

    torch.set_num_threads(args.threads)
    t_start = time.perf_counter()
    store = Store()
    work = Path(args.work) if args.work else store.tmp / "bench-prune-distill"
    work.mkdir(parents=True, exist_ok=True)
    text = datasets.load_text(datasets.resolve("wikipedia"))
    held, train_text = text[:HELD_CHARS], text[HELD_CHARS:]
    train_file = work / "train.txt"
    train_file.write_text(train_text, encoding="utf-8")
    timings = {}

    _say("reference (teacher) …")
    t0 = time.perf_counter()
    ref_dir, ref_what = reference_dir(store, args.model, work, args.teacher)
    dense = hf_to_gguf(ref_dir, work / "dense-f16.gguf", out_type="f16", overwrite=True)
    timings["reference_and_dense_gguf"] = time.perf_counter() - t0

    _say(f"depth prune {args.ratio:g} …")
    t0 = time.perf_counter()
    pr = structured.prune(ref_dir, str(work / "pruned"), mode="depth", ratio=args.ratio,
                          data=str(train_file), n_samples=args.calib, seq_len=256)
    timings["prune"] = time.perf_counter() - t0
    _say(f"dropped layers {pr['dropped_layers']}; distilling {args.steps} steps …")

    t0 = time.perf_counter()
    cfg = DistillConfig(loss="fkl", temperature=1.0, alpha=0.0, lr=args.lr, warmup_steps=3,
                        batch_size=args.batch, seq_len=args.seq, max_steps=args.steps,
                        save_every=0, eval_rows=2, seed=args.seed, bf16=args.bf16)

    def on_step(row):
        if row["step"] % 10 == 0 or row["step"] == args.steps:
            _say(f"  step {row['step']}: loss {row['loss']:.4f}, "
                 f"{row['tokens_per_second']:.0f} tok/s")

    student = args.student_from or pr["hf_dir"]
    out_name = "distill-continued" if args.student_from else "distill"
    ds = distill(ref_dir, student, str(train_file), str(work / out_name), config=cfg,
                 on_step=on_step, n_threads=args.threads)
    timings["distill"] = time.perf_counter() - t0

    _say("wanda 50% (unstructured, for the CPU-speed note) …")
    t0 = time.perf_counter()
    wd = unstructured.prune(ref_dir, str(work / "wanda"), method="wanda", sparsity="0.5",
                            data=str(train_file), n_samples=args.calib, seq_len=256)
    timings["wanda"] = time.perf_counter() - t0

    paths = {"dense": str(dense), "pruned": pr["gguf"], "distilled": ds["gguf"],
             "wanda50": wd["gguf"]}
    _say("perplexity on held-apart text …")
    t0 = time.perf_counter()
    ppl = perplexities(paths, held, args.chunks, args.threads)
    timings["perplexity"] = time.perf_counter() - t0
    _say("decode speed …")
    t0 = time.perf_counter()
    speed = decode_speeds(paths, args.threads, args.rounds, args.gen)
    timings["decode"] = time.perf_counter() - t0

    P = {k: v["ppl"] for k, v in ppl.items()}
    lost = P["pruned"] - P["dense"]
    recovered = (P["pruned"] - P["distilled"]) / lost if lost > 0 else None
    # pruned and distilled have the same shapes: their decode speeds differ only by noise
    speedup = (speed["pruned"] + speed["distilled"]) / 2 / speed["dense"]
    sizes = {k: Path(v).stat().st_size for k, v in paths.items()}
    out = {
        "model": args.model, "reference": ref_what, "quant": "F16",
        "threads": args.threads, "machine": machine(), "settings": vars(args),
        "prune": {k: pr[k] for k in ("mode", "ratio", "layers_before", "layers_after",
                                     "dropped_layers", "parameters_before",
                                     "parameters_after")},
        "distill": {**{k: ds[k] for k in ("method_tag", "steps", "tokens_trained",
                                          "train_seconds", "tokens_per_second", "before",
                                          "after")},
                    "continued_from": args.student_from, "prior_steps": args.prior_steps,
                    "prior_tokens": args.prior_tokens,
                    "total_tokens": args.prior_tokens + ds["tokens_trained"]},
        "perplexity": ppl, "decode_tps": speed, "gguf_bytes": sizes,
        "decode_speedup_vs_dense": speedup,
        "wanda50_decode_ratio_vs_dense": speed["wanda50"] / speed["dense"],
        "ppl_lost_by_pruning": lost, "ppl_share_recovered": recovered,
        "targets": {"decode_speedup>=1.2": speedup >= 1.2,
                    "recovered>=0.9": bool(recovered is not None and recovered >= 0.9)},
        "timings_seconds": {k: round(v, 1) for k, v in timings.items()},
        "total_seconds": round(time.perf_counter() - t_start, 1),
    }
    md = markdown(out)
    print(md)
    if not args.no_save:
        print(f"saved {save('prune_distill', out, md)}")
    else:
        print(json.dumps(out, indent=2, default=str))


def markdown(o: dict) -> str:
    P, S, B = o["perplexity"], o["decode_tps"], o["gguf_bytes"]
    rec = o["ppl_share_recovered"]
    d = o["distill"]
    rows = [("dense (unpruned)", "dense"), (f"depth-pruned {o['prune']['ratio']:.0%}", "pruned"),
            ("pruned + distilled", "distilled"), ("wanda 50% unstructured", "wanda50")]
    pr, st, t = o["prune"], o["settings"], o["targets"]
    header = (f"Model: {o['model']}; reference/teacher: {o['reference']}. All models as "
              f"{o['quant']} GGUF in llama.cpp, {o['threads']} threads, {o['machine']['cpu']} "
              f"({o['machine']['physical_cores']} cores, shared with other jobs).")
    setup = (f"Depth prune: {pr['layers_before']} → {pr['layers_after']} layers (dropped "
             f"{pr['dropped_layers']}), parameters {pr['parameters_before'] / 1e6:.1f}M → "
             f"{pr['parameters_after'] / 1e6:.1f}M. Distillation: {d['method_tag']}, "
             f"{d['steps']} steps × {st['batch']} × {st['seq']} tokens "
             f"({d['tokens_trained']:,} tokens), {d['train_seconds']:.0f} s "
             f"({d['tokens_per_second']:.0f} tok/s){', bf16 autocast' if st.get('bf16') else ''}"
             + (f", continuing an earlier run of {d['prior_steps']} steps "
                f"({d['prior_tokens']:,} tokens) from its result (a cosine restart): "
                f"{d['total_tokens']:,} tokens in all" if d.get("continued_from") else "")
             + ".")
    lines = ["# Prune + distill (issue 5, part B)", "", header, "", setup, "",
             "| model | PPL (held-apart wikipedia) | decode tok/s | × dense | GGUF MiB |",
             "|---|---|---|---|---|"]
    for label, k in rows:
        lines.append(f"| {label} | {P[k]['ppl']:.2f} ± {P[k]['ppl_se']:.2f} | {S[k]:.1f} | "
                     f"{S[k] / S['dense']:.2f} | {B[k] / 2**20:.0f} |")
    speed = (f"- decode speed-up of the pruned model (mean of the two same-shaped rows): "
             f"**{o['decode_speedup_vs_dense']:.2f}×** (target ≥ 1.20×: "
             f"{'met' if t['decode_speedup>=1.2'] else 'NOT met'})")
    recovery = ("- pruning lost no perplexity" if rec is None else
                f"- PPL lost by pruning: {o['ppl_lost_by_pruning']:.2f}; share recovered by "
                f"distillation: **{rec:.1%}** (target ≥ 90%: "
                f"{'met' if t['recovered>=0.9'] else 'NOT met'})")
    kl = (f"- held-apart KL(teacher‖student) during distillation (torch, 2 rows): "
          f"{d['before'].get('kl', float('nan')):.3f} → {d['after'].get('kl', float('nan')):.3f}")
    wanda = (f"- wanda 50% unstructured: decode {o['wanda50_decode_ratio_vs_dense']:.2f}× "
             "dense, same file size — zeros are stored and multiplied like any weight in "
             "llama.cpp on CPU.")
    command = ("Command: `SLM_HOME=/tmp/realhome python benchmarks/prune_distill.py "
               f"--steps {st['steps']} --lr {st['lr']:g} --seq {st['seq']} "
               f"--batch {st['batch']}{' --bf16' if st.get('bf16') else ''} "
               f"--threads {o['threads']}`")
    noise = (f"- noise check: the pruned and distilled rows have identical shapes, so their "
             f"spread ({S['pruned'] / S['dense']:.2f}× vs {S['distilled'] / S['dense']:.2f}×) "
             "is measurement noise on this shared machine; decode is memory-bound, and the "
             f"weights read per token shrink {B['dense'] / B['pruned']:.2f}× — the speed-up to "
             "expect on a quiet machine.")
    lines += ["", speed, noise, recovery, kl, wanda, "",
              f"Total run: {o['total_seconds']:.0f} s; stages: {o['timings_seconds']}.", "",
              command, ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
