"""One model, three runtimes: llama.cpp (the anchor), PyTorch and ONNX Runtime (GenAI).

The default model in its shipped GGUF (Q4_1, the anchor) and a Q8_0, the same weights as a
Hugging Face directory on the torch engine (fp32), and exported with onnxruntime-genai's
builder to ONNX fp32 and int4 (MatMulNBits, block 32) on the onnx engine. Speed: each
configuration in a fresh process (``slmkit.evaluate.speed``: load time, prompt tokens/s at
128 and 512 tokens, greedy decode of 128 tokens, time to first token, peak RSS), rounds
interleaved, medians. Quality: perplexity on the held-apart Wikipedia text
(``slmkit.evaluate.perplexity``, the same 512-token chunks for every configuration).
Size: the files on disk. Ratios are against the anchor.

    SLM_HOME=/tmp/realhome python benchmarks/onnx.py [--threads 2] [--rounds 3] [--chunks 8]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

# This file is named onnx.py: drop its own folder from the path so `import onnx` (inside the
# ONNX builder) finds the real package, and load the shared helpers by file name instead.
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or os.getcwd()).resolve() != HERE]

KEYS = (("load_seconds", "load", "s", "lower"), ("prompt_128_tps", "prompt 128", "tok/s", "higher"),
        ("prompt_512_tps", "prompt 512", "tok/s", "higher"),
        ("decode_tps", "decode 128", "tok/s", "higher"),
        ("ttft_seconds", "time to first token", "s", "lower"),
        ("peak_rss_mb", "peak RSS", "MB", "lower"), ("ppl", "wikipedia PPL", "", "lower"),
        ("size_mb", "size on disk", "MB", "lower"))


def prepare(model_path: str, work: Path) -> dict[str, Path]:
    """The artefacts, made once under ``work``: HF dir, Q8_0 GGUF, ONNX fp32 and int4."""
    from slmkit.convert import gguf_to_hf, hf_to_gguf
    from slmkit.convert.to_gguf import quantize
    from slmkit.convert.to_onnx import hf_to_onnx

    work.mkdir(parents=True, exist_ok=True)
    out = {"hf": work / "hf", "f32": work / "f32.gguf", "q8_0": work / "q8_0.gguf",
           "onnx-fp32": work / "onnx-fp32", "onnx-int4": work / "onnx-int4"}
    seconds = {}
    t0 = time.perf_counter()
    if not (out["hf"] / "config.json").is_file():
        gguf_to_hf(model_path, out["hf"], overwrite=True)
    seconds["gguf_to_hf"] = time.perf_counter() - t0
    if not out["q8_0"].is_file():
        if not out["f32"].is_file():
            hf_to_gguf(out["hf"], out["f32"], overwrite=True)
        quantize(out["f32"], out["q8_0"], 7)
    for prec in ("fp32", "int4"):
        t0 = time.perf_counter()
        if not (out[f"onnx-{prec}"] / "genai_config.json").is_file():
            hf_to_onnx(out["hf"], out[f"onnx-{prec}"], precision=prec, overwrite=True)
            seconds[f"export_onnx_{prec}"] = time.perf_counter() - t0
    print(f"artefacts ready in {work} ({ {k: round(v, 1) for k, v in seconds.items()} })",
          flush=True)
    return out


def size_mb(path: Path) -> float:
    if path.is_dir():
        files = [p for p in path.iterdir() if p.is_file() and (
            ".onnx" in p.name or p.suffix == ".safetensors")]
        return sum(p.stat().st_size for p in files) / 1e6
    return path.stat().st_size / 1e6


def perplexity_of(cfg, text: str, chunks: int, threads: int) -> dict:
    from slmkit.evaluate.perplexity import perplexity
    from slmkit.runtime import load_engine

    engine = load_engine(cfg.path, backend=cfg.engine, n_ctx=1024, n_threads=threads)
    try:
        r = perplexity(engine, text, chunk=512, max_chunks=chunks)
        return {"ppl": r.ppl, "ppl_se": r.ppl_se, "n_scored": r.n_scored,
                "seconds": r.seconds}
    finally:
        engine.close()


def _common():
    import importlib.util

    spec = importlib.util.spec_from_file_location("_bench_common", HERE / "_common.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> int:
    common = _common()
    machine, save = common.machine, common.save

    from slmkit.evaluate import datasets
    from slmkit.evaluate.speed import BenchConfig, run_isolated
    from slmkit.models.store import Store

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="smollm2-135m-instruct")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--repeat", type=int, default=2, help="repetitions inside each process")
    p.add_argument("--chunks", type=int, default=8, help="512-token perplexity chunks")
    p.add_argument("--work", default="/tmp/slm-onnx-bench", help="where artefacts are made")
    p.add_argument("--prepare-only", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    load_before = os.getloadavg()
    ref = Store().resolve(args.model)
    work = Path(args.work) / ref.name
    if args.prepare_only:
        prepare(ref.path, work)
        return 0
    # made in a child: a child process inherits its parent's peak RSS across exec, so the
    # conversions (≈2 GB) must not run here or every measured process would report them
    subprocess.run([sys.executable, __file__, "--prepare-only", "--model", args.model,
                    "--work", args.work], check=True)
    art = prepare(ref.path, work)
    paths = [("llamacpp", ref.path, "Q4_1 GGUF"), ("llamacpp", str(art["q8_0"]), "Q8_0 GGUF"),
             ("torch", str(art["hf"]), "fp32 safetensors"),
             ("onnx", str(art["onnx-fp32"]), "ONNX fp32"),
             ("onnx", str(art["onnx-int4"]), "ONNX int4")]
    configs = [BenchConfig(name, path, engine, args.threads, 2048, 128, args.repeat)
               for engine, path, name in paths]
    labels = [c.label for c in configs]
    runs: dict[str, list[dict]] = {c.label: [] for c in configs}
    for r in range(args.rounds):
        for c in configs if r % 2 == 0 else configs[::-1]:
            res = run_isolated(c)
            runs[c.label].append(res.metrics)
            print(f"round {r + 1}/{args.rounds} {c.label}: decode "
                  f"{res.metrics['decode_tps']:.1f} tok/s, prompt512 "
                  f"{res.metrics['prompt_512_tps']:.0f} tok/s, load "
                  f"{res.metrics['load_seconds']:.2f} s", flush=True)
    text = datasets.load_text(datasets.resolve("wikipedia", kind="text"))
    quality = {}
    for c in configs:
        quality[c.label] = perplexity_of(c, text, args.chunks, args.threads)
        print(f"ppl {c.label}: {quality[c.label]['ppl']:.3f}", flush=True)
    table = {}
    for key, *_ in KEYS:
        med = {}
        for c in configs:
            if key == "ppl":
                med[c.label] = quality[c.label]["ppl"]
            elif key == "size_mb":
                med[c.label] = size_mb(Path(c.path))
            else:
                med[c.label] = statistics.median(m[key] for m in runs[c.label])
        table[key] = {x: {"median": v, "ratio": v / med[labels[0]]} for x, v in med.items()}
    m = machine()
    load_after = os.getloadavg()
    md = _markdown(table, labels, args, m, ref.name, load_before, load_after)
    print("\n" + md)
    payload = {"benchmark": "onnx", "model": ref.name, "threads": args.threads,
               "rounds": args.rounds, "repeat": args.repeat, "ppl_chunks": args.chunks,
               "machine": m, "loadavg_before": load_before, "loadavg_after": load_after,
               "median": table, "runs": runs, "quality": quality,
               "paths": {c.label: c.path for c in configs}}
    print(f"saved {save('onnx', payload, md)}")
    return 0


def _markdown(table, labels, args, m, model, before, after) -> str:
    head = (f"ONNX Runtime vs llama.cpp vs PyTorch · {model} · {args.threads} threads · "
             f"speed: median of {args.rounds} fresh processes × {args.repeat} repetitions, "
             f"rounds interleaved · PPL: {args.chunks} chunks of 512 tokens (second halves "
             f"scored) of the held-apart Wikipedia text · {m['cpu']}, {m['physical_cores']} "
             f"cores, shared machine (load average {before[0]:.1f} before, {after[0]:.1f} "
             f"after) · ratios against {labels[0]}")
    lines = [head, "", "| metric | " + " | ".join(labels) + " |", "|---" * (len(labels) + 1) + "|"]
    for key, label, unit, better in KEYS:
        cells = [f"{table[key][x]['median']:.4g}" + ("" if i == 0 else
                                                     f" ({table[key][x]['ratio']:.2f}×)")
                 for i, x in enumerate(labels)]
        unit = f"{unit}, " if unit else ""
        lines.append(f"| {label} ({unit}{better} is better) | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
