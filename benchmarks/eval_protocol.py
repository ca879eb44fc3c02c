"""The measuring protocol applied to the default model; every number in the README's
evaluation table comes from here.

1. Perplexity on ``wikipedia`` (llama.cpp's method: 512-token chunks, second half of each
   scored) on the llama.cpp engine and on the torch engine — same weights, two
   implementations; the ratio should be 1 within 1%.
2. Conversions: GGUF (Q4_1) → HF → GGUF F32 (``-f32``) → Q8_0 (``-q8_0``), registered in
   the store; KL-divergence of the Q8_0 requantization and of the original Q4_1 file
   against the F32 round trip (full rows, exact), with top-1 agreement and ΔPPL.
3. Multiple choice on the ``mmlu`` subset of openai/evals (1000 four-choice questions):
   letter scoring 0-shot on all of them and 5-shot on the first ``--mmlu-5shot`` after the
   shots, plus cloze-style (answer text) scoring.

    python benchmarks/eval_protocol.py [--chunks 40] [--kld-chunks 8] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))


def _progress(task: str, done: int, total: int) -> None:
    if done == total or done % 25 == 0:
        print(f"  {task}: {done}/{total}", flush=True)


def _converted(store, name: str) -> dict[str, str]:
    """hf / f32 / q8_0 versions of ``name`` in the store (made once)."""
    import shutil
    import tempfile

    from slmkit.convert import gguf_to_hf, hf_to_gguf
    from slmkit.convert.to_gguf import quantize

    steps = (("hf", name, lambda src, out: gguf_to_hf(src, out), "convert:gguf-to-hf"),
             ("f32", f"{name}-hf", lambda src, out: hf_to_gguf(src, out),
              "convert:hf-to-gguf-f32"),
             ("q8_0", f"{name}-f32", lambda src, out: quantize(Path(src), out, 7),
              "quantize:q8_0"))
    out = {}
    for kind, parent, make, method in steps:
        target = f"{name}-{kind}"
        if not store.has(target):
            store.tmp.mkdir(parents=True, exist_ok=True)
            scratch = Path(tempfile.mkdtemp(dir=store.tmp))
            try:
                made = scratch / (target if kind == "hf" else f"{target}.gguf")
                make(store.get(parent).path, made)
                store.add(made, target, parent=parent, method=method)
            finally:
                shutil.rmtree(scratch, ignore_errors=True)
        out[kind] = store.get(target).path
    return out


def main() -> int:
    from _common import machine, save

    from slmkit.evaluate import datasets, kld
    from slmkit.evaluate.choice import choice_accuracy
    from slmkit.evaluate.perplexity import perplexity
    from slmkit.models.store import Store
    from slmkit.runtime import load_engine

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="smollm2-135m-instruct")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--chunks", type=int, default=40, help="perplexity chunks (0 = all)")
    p.add_argument("--kld-chunks", type=int, default=8)
    p.add_argument("--mmlu-5shot", type=int, default=200)
    p.add_argument("--mmlu-cloze", type=int, default=300)
    args = p.parse_args()
    store = Store()
    ref = store.resolve(args.model)
    paths = _converted(store, ref.name)
    wiki = datasets.load_text(datasets.resolve("wikipedia"))
    mmlu = datasets.load_choices(datasets.resolve("mmlu"))
    chunks = args.chunks or None
    out: dict = {"model": ref.name, "threads": args.threads, "machine": machine()}
    t0 = time.perf_counter()

    def open_(path, backend="llamacpp"):
        return load_engine(path, backend=backend, n_ctx=4096, n_threads=args.threads)

    print("perplexity, llama.cpp engine", flush=True)
    with open_(ref.path) as e:
        out["ppl_llamacpp"] = perplexity(e, wiki, max_chunks=chunks, progress=_progress).to_dict()
        print("mmlu, llama.cpp engine", flush=True)
        out["mmlu"] = [choice_accuracy(e, mmlu, shots=0, progress=_progress).to_dict(),
                       choice_accuracy(e, mmlu, shots=5, limit=args.mmlu_5shot,
                                       progress=_progress).to_dict(),
                       choice_accuracy(e, mmlu, shots=0, limit=args.mmlu_cloze, mode="text",
                                       progress=_progress).to_dict()]
    print("perplexity, torch engine", flush=True)
    with open_(ref.path, "torch") as e:
        out["ppl_torch"] = perplexity(e, wiki, max_chunks=chunks, progress=_progress).to_dict()
    print("KL-divergence against the F32 round trip", flush=True)
    with open_(paths["f32"]) as e:
        reference = kld.build_reference(e, wiki, max_chunks=args.kld_chunks, top_k=0,
                                        progress=_progress)
    out["kld"] = {}
    for label, path in (("q8_0", paths["q8_0"]), ("q4_1 (original)", ref.path)):
        with open_(path) as e:
            out["kld"][label] = kld.compare(e, reference, progress=_progress).to_dict()
    out["seconds"] = time.perf_counter() - t0
    md = _markdown(out, args)
    print("\n" + md)
    print(f"saved {save('eval-protocol', out, md)}")
    return 0


def _markdown(o: dict, args) -> str:
    a, b = o["ppl_llamacpp"], o["ppl_torch"]
    lines = [(f"evaluation protocol · {o['model']} · {args.threads} threads · "
             f"{o['machine']['cpu']}"), "",
             "| measure | value |", "|---|---|",
             (f"| PPL wikipedia, llama.cpp engine ({a['n_chunks']}×512, {a['n_scored']:,} tokens)"
             f" | {a['ppl']:.3f} ± {a['ppl_se']:.3f} |"),
             f"| PPL wikipedia, torch engine (same chunks) | {b['ppl']:.3f} ± {b['ppl_se']:.3f} |",
             f"| torch / llama.cpp PPL | {b['ppl'] / a['ppl']:.4f} |"]
    for label, k in o["kld"].items():
        lines += [(f"| {label} vs F32 round trip: mean KLD ({k['n_scored']:,} positions, exact) | "
                  f"{k['kld_mean']:.5f} ± {k['kld_se']:.5f} |"),
                  f"| {label}: 99th percentile KLD | {k['kld_p99']:.4f} |",
                  (f"| {label}: top-1 agreement | {100 * k['top1_agreement']:.2f}% ± "
                  f"{100 * k['top1_se']:.2f}% |"),
                  (f"| {label}: ΔPPL | {k['delta_ppl']:+.3f} ({k['ppl']:.3f} vs "
                  f"{k['ppl_reference']:.3f}) |")]
    for c in o["mmlu"]:
        lines.append(f"| MMLU subset, {c['shots']}-shot, {c['mode']} scoring (n={c['n']}) | "
                     f"{100 * c['accuracy']:.1f}% ± {100 * c['accuracy_se']:.1f}% "
                     f"(chance {100 * c['chance']:.0f}%) |")
    return "\n".join(lines) + f"\n\ntotal {o['seconds'] / 60:.1f} min\n" + \
        "\n```json\n" + json.dumps({"args": vars(args)}) + "\n```\n"


if __name__ == "__main__":
    sys.exit(main())
