"""torchao weight-only int8 / int4 in the torch engine vs the same model in float32.

The anchor is plain transformers float32 in the same engine (the torch engine on the float HF
directory), measured in the same run. For each variant:

* load seconds and weight memory: each variant loaded in a fresh interpreter (median of
  ``--loads``); weights = the engine's ``info.size_bytes`` (torchao tensors counted by their
  packed data + scales); RSS growth over the load and peak RSS of that process;
* decode tokens/s: greedy, ``--gen`` tokens, ``--threads`` threads, rounds interleaved
  over the variants, median;
* quality on held-apart Wikipedia (the first quarter of the ``wikipedia`` dataset, chunks
  of 512, second half scored): perplexity, and mean KL-divergence + top-1 agreement against
  the float32 engine's logits (``slmkit.evaluate.kld``).

int8 is stored as torchao safetensors (loaded quantized); int4 as float safetensors + recipe
(quantized at load, so its load time includes quantization).

    SLM_HOME=/tmp/realhome python benchmarks/torch_quant.py [--model NAME] [--threads 2]

The default model's float weights come from its Q4_1 GGUF, i.e. they sit on a 4-bit grid
with 32-weight groups — which flatters int4 g32. ``--model smollm2-135m-instruct-offgrid-hf``
measures on the off-grid reference instead.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

VARIANTS = ("fp32", "int8wo", "int4wo-g32")


def _say(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def child(path: str, threads: int) -> None:
    """Load ``path`` in this fresh process; print load s, weight bytes, RSS figures."""
    import resource

    import psutil

    proc = psutil.Process()
    import torch  # noqa: F401  (imports are not the model's memory)
    import transformers  # noqa: F401

    from slmkit.runtime.torch import quantize as tq

    tq._torchao()
    rss0 = proc.memory_info().rss
    from slmkit.runtime import load_engine

    eng = load_engine(path, backend="torch", n_ctx=512, n_threads=threads)
    print(json.dumps({"load_s": eng.load_seconds, "weight_bytes": eng.info.size_bytes,
                      "quantization": eng.info.quantization,
                      "rss_growth": proc.memory_info().rss - rss0,
                      "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))


def prepare(model: str, work: Path) -> dict[str, str]:
    """{variant: model directory}: the float HF dir and its torchao-quantized copies."""
    from slmkit.compress.torch_quant import float_hf_dir, quantize_torch
    from slmkit.models.store import Store

    store = Store()
    src = float_hf_dir(store, store.resolve(model))
    paths = {"fp32": str(src)}
    for variant, scheme in (("int8wo", "int8"), ("int4wo-g32", "int4-g32")):
        out = work / variant
        if not (out / "slmkit-quant.json").is_file():
            quantize_torch(str(src), scheme, store=store, output=out, force=True)
        paths[variant] = str(out)
    return paths


def loads(paths: dict[str, str], threads: int, n: int) -> dict:
    from _common import run_child

    out = {}
    for k, p in paths.items():
        rows = [run_child(__file__, [p, str(threads)]) for _ in range(n)]
        out[k] = {key: statistics.median(r[key] for r in rows)
                  for key in ("load_s", "weight_bytes", "rss_growth", "peak_rss")}
        out[k]["quantization"] = rows[0]["quantization"]
    return out


def decode_and_quality(paths: dict[str, str], held: str, args) -> tuple[dict, dict]:
    from slmkit.core.types import GREEDY, GenerateRequest, collect
    from slmkit.evaluate import kld
    from slmkit.evaluate.perplexity import perplexity
    from slmkit.runtime import load_engine

    engines = {k: load_engine(p, backend="torch", n_ctx=1024, n_threads=args.threads)
               for k, p in paths.items()}
    rates: dict[str, list[float]] = {k: [] for k in paths}
    made: dict[str, list[int]] = {k: [] for k in paths}
    try:
        for e in engines.values():  # warm-up
            collect(e.generate(GenerateRequest(prompt="Hello", max_tokens=4, sampling=GREEDY)))
        prompt = held[:400]
        for r in range(args.rounds):
            for k, e in engines.items():
                req = GenerateRequest(prompt=prompt, max_tokens=args.gen, sampling=GREEDY)
                done = collect(e.generate(req))
                rates[k].append(done.usage.decode_tokens_per_second)
                made[k].append(done.usage.completion_tokens)
            _say(f"decode round {r + 1}/{args.rounds}")
        quality = {"fp32": perplexity(engines["fp32"], held, max_chunks=args.chunks).to_dict()}
        ref = kld.build_reference(engines["fp32"], held, max_chunks=args.chunks)
        for k in paths:
            if k != "fp32":
                quality[k] = kld.compare(engines[k], ref).to_dict()
            _say(f"quality {k} done")
    finally:
        for e in engines.values():
            e.close()
    speed = {k: {"decode_tps": statistics.median(v), "decode_tps_all": v,
                 "tokens_generated": made[k]} for k, v in rates.items()}
    return speed, quality


def notes(model: str) -> list[str]:
    out = [("int8wo is stored as torchao safetensors (disk shrinks); int4wo is float "
            "safetensors + recipe, quantized at load (disk unchanged; its load time includes "
            "quantizing)"),
           ("embeddings and the tied lm_head stay float32 (28M of 135M params for "
            "SmolLM2-135M), which bounds the weight saving"),
           ("'weights MiB' is the reliable memory figure. 'RSS growth' is measured right "
            "after load: float safetensors are memory-mapped and paged in lazily (fp32 "
            "undercounts), and int4 includes the float copy it was quantized from, freed to "
            "the allocator but not returned to the OS"),
           ("decode is eager PyTorch (no torch.compile): torchao's int8 weight-only path "
            "converts the int8 weight to float on every call; the int4 CPU tinygemm kernel "
            "runs in bfloat16 (its only fast path). Neither is faster than fp32 here — these "
            "schemes save memory, not time, in the torch engine")]
    if not model.endswith(("-offgrid-hf", "-offgrid")):
        out.append("the float weights are the Q4_1 GGUF dequantized: they sit exactly on a "
                   "4-bit asymmetric grid of 32-weight groups, which int4 g32 reproduces, so its "
                   "small KLD here is mostly the bfloat16 activations; see the -offgrid-hf "
                   "run for int4's real loss")
    return out


def render(payload: dict) -> str:
    rows = payload["rows"]
    lines = [f"# torchao weight-only in the torch engine — {payload['model']}", "",
             (f"Anchor: float32 in the same engine (plain transformers), same run. "
              f"{payload['threads']} threads, greedy {payload['gen']} tokens, "
              f"{payload['rounds']} interleaved rounds (median); loads: median of "
              f"{payload['loads']} fresh processes. Quality: held-apart Wikipedia, "
              f"{payload['chunks']} chunks × 512, second half scored; KLD vs float32."), "",
             ("| variant | load s | weights MiB | RSS growth MiB | decode tok/s | PPL | "
              "mean KLD | top-1 | ×load | ×weights | ×decode |"),
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for k, r in rows.items():
        lines.append(
            f"| {k} | {r['load_s']:.2f} | {r['weight_mib']:.1f} | {r['rss_growth_mib']:.1f} | "
            f"{r['decode_tps']:.1f} | {r['ppl']:.3f} | {r.get('kld_mean', 0):.5f} | "
            f"{r.get('top1', 1):.3f} | {r['ratio_load']:.2f} | {r['ratio_weights']:.2f} | "
            f"{r['ratio_decode']:.2f} |")
    m = payload["machine"]
    lines += ["", (f"Machine: {m['cpu']}, {m['physical_cores']} cores, {m['ram_gb']} GiB; "
                   f"{payload['note']}"), ""]
    lines += [f"- {n}" for n in payload["notes"]]
    return "\n".join(lines) + "\n"


def main() -> None:
    from _common import machine, save

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--child", nargs=2, metavar=("PATH", "THREADS"))
    p.add_argument("--model", default="smollm2-135m-instruct")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--gen", type=int, default=128)
    p.add_argument("--chunks", type=int, default=8, help="perplexity chunks of 512 tokens")
    p.add_argument("--loads", type=int, default=3, help="fresh-process loads per variant")
    p.add_argument("--work", default="/tmp/slm-torchao-bench")
    p.add_argument("--no-save", action="store_true")
    args = p.parse_args()
    if args.child:
        return child(args.child[0], int(args.child[1]))

    from slmkit.compress.reference import split_text
    from slmkit.evaluate import datasets

    _say(f"preparing {args.model}")
    paths = prepare(args.model, Path(args.work) / args.model)
    held, _ = split_text(datasets.load_text(datasets.resolve("wikipedia", kind="text")))
    held = held[:60_000]
    _say("loads in fresh processes")
    load = loads(paths, args.threads, args.loads)
    speed, quality = decode_and_quality(paths, held, args)
    base = {"load": load["fp32"]["load_s"], "weights": load["fp32"]["weight_bytes"],
            "decode": speed["fp32"]["decode_tps"]}
    rows = {}
    for k in paths:
        q = quality[k]
        rows[k] = {"quantization": load[k]["quantization"], "load_s": load[k]["load_s"],
                   "weight_mib": load[k]["weight_bytes"] / 2**20,
                   "rss_growth_mib": load[k]["rss_growth"] / 2**20,
                   "peak_rss_mib": load[k]["peak_rss"] / 2**20,
                   "decode_tps": speed[k]["decode_tps"], "ppl": q["ppl"],
                   "kld_mean": q.get("kld_mean", 0.0), "top1": q.get("top1_agreement", 1.0),
                   "ratio_load": load[k]["load_s"] / base["load"],
                   "ratio_weights": load[k]["weight_bytes"] / base["weights"],
                   "ratio_decode": speed[k]["decode_tps"] / base["decode"]}
        print(f"{k:>11}: load {rows[k]['load_s']:.2f} s (×{rows[k]['ratio_load']:.2f}), "
              f"weights {rows[k]['weight_mib']:.1f} MiB (×{rows[k]['ratio_weights']:.2f}), "
              f"decode {rows[k]['decode_tps']:.1f} tok/s (×{rows[k]['ratio_decode']:.2f}), "
              f"PPL {rows[k]['ppl']:.3f}, KLD {rows[k]['kld_mean']:.5f}, "
              f"top-1 {rows[k]['top1']:.3f}")
    payload = {"model": args.model, "paths": paths, "threads": args.threads,
               "rounds": args.rounds, "gen": args.gen, "chunks": args.chunks,
               "loads": args.loads, "machine": machine(),
               "note": "shared machine (2 cores, other engineers' jobs running): absolute "
                       "numbers are noisy, ratios are same-run.",
               "notes": notes(args.model),
               "rows": rows, "speed": speed, "quality": quality, "load": load}
    if not args.no_save:
        path = save("torch_quant" + ("" if args.model == "smollm2-135m-instruct"
                                     else f"-{args.model}"), payload, render(payload))
        _say(f"saved {path}")


if __name__ == "__main__":
    main()
