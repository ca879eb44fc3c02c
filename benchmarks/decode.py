"""Our `slm run` path against llama.cpp's own `llama-bench` (tg128) and raw llama-cpp-python
on the same GGUF, threads and prompts.

Each measurement runs in a fresh process (clean load time and peak RSS), alternating
ours / anchors for ``--rounds`` rounds; medians are compared. ``llama-bench`` is built from
the llama.cpp sources of the pinned llama-cpp-python on first use (see _cpp.py; about
8 minutes on 2 cores; ``--no-cpp`` skips it). Metrics: load time, prompt
processing tokens/s (a ~512-token prompt), time to first token on a short chat-sized
prompt, decode tokens/s (greedy, 128 tokens), peak RSS.

    python benchmarks/decode.py [--model NAME|PATH] [--threads N] [--rounds 3]

Targets: decode ≥ 0.95× llama-bench tg128 with the same flash-attention setting (issue #20)
and ≥ 0.95× raw, load ≤ 1.1× raw.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time

from _common import flash_attn

SHORT_PROMPT = "Once upon a time"
LONG_TEXT = ("The river carried the spring melt down from the mountains, past the mills and "
             "the orchards, and into the wide valley where the town had stood for centuries. ")


def child(kind: str, model: str, threads: int, n_gen: int, n_prompt: int) -> dict:
    from slmkit.runtime import load_engine

    tok_engine = None
    t0 = time.perf_counter()
    if kind == "ours":
        runner = _Ours(model, threads)
    else:
        runner = _Raw(model, threads)
    load = time.perf_counter() - t0
    tok_engine = runner.engine if kind == "ours" else load_engine(model, n_ctx=256)
    long_ids = tok_engine.tokenize(LONG_TEXT * 40)[:n_prompt]
    if kind != "ours":
        tok_engine.close()
    # decode first, from an empty cache (as llama-bench's tg runs), then the long prompt
    ttft, n_tokens, decode_seconds = runner.decode(n_gen)
    pp_seconds = runner.first_token_seconds(long_ids)
    return {
        "kind": kind, "load_seconds": load,
        "prompt_tokens": len(long_ids), "prompt_tokens_per_second": len(long_ids) / pp_seconds,
        "ttft_seconds": ttft, "generated_tokens": n_tokens,
        "decode_tokens_per_second": (n_tokens - 1) / decode_seconds,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


class _Ours:
    """Exactly what `slm run` does after resolving the model: load_engine + generate."""

    def __init__(self, path: str, threads: int) -> None:
        from slmkit.runtime import load_engine

        self.engine = load_engine(path, n_ctx=4096, n_threads=threads)

    def first_token_seconds(self, ids: list[int]) -> float:
        from slmkit.core.types import GREEDY, GenerateRequest

        t0 = time.perf_counter()
        stream = self.engine.generate(GenerateRequest(prompt_tokens=ids, max_tokens=1,
                                                      sampling=GREEDY))
        next(stream)
        stream.close()
        return time.perf_counter() - t0

    def decode(self, n_gen: int) -> tuple[float, int, float]:
        from slmkit.core.types import GREEDY, GenerateRequest

        req = GenerateRequest(prompt=SHORT_PROMPT, max_tokens=n_gen, sampling=GREEDY)
        return _time_stream(lambda: self.engine.generate(req),
                            lambda c: len(c.token_ids) > 0)


class _Raw:
    """The anchor: llama-cpp-python's high-level Llama API, streaming."""

    def __init__(self, path: str, threads: int) -> None:
        from llama_cpp import Llama

        self.llm = Llama(path, n_ctx=4096, n_threads=threads, n_threads_batch=threads,
                         flash_attn=flash_attn(), verbose=False)

    def first_token_seconds(self, ids: list[int]) -> float:
        t0 = time.perf_counter()
        stream = self.llm.create_completion(ids, max_tokens=1, temperature=0.0, stream=True)
        next(iter(stream))
        stream.close()
        return time.perf_counter() - t0

    def decode(self, n_gen: int) -> tuple[float, int, float]:
        self.llm.reset()
        return _time_stream(
            lambda: self.llm.create_completion(SHORT_PROMPT, max_tokens=n_gen,
                                               temperature=0.0, stream=True),
            lambda c: True)


def _time_stream(start, is_token) -> tuple[float, int, float]:
    t0 = time.perf_counter()
    first = last = None
    n = 0
    for chunk in start():
        if is_token(chunk):
            last = time.perf_counter()
            first = first or last
            n += 1
    return first - t0, n, last - first


def parent(args) -> int:
    sys.path.insert(0, str(__import__("pathlib").Path(__file__).parent))
    from _common import machine, median_of, run_child, save

    path = _model_path(args.model)
    with open(path, "rb") as f:  # warm the page cache so neither side pays the disk read
        while f.read(1 << 24):
            pass
    rows = {"ours": [], "raw": []}
    bench = _cpp_bench(args, path)
    for r in range(args.rounds):
        for kind in ("ours", "raw") if r % 2 == 0 else ("raw", "ours"):
            rows[kind].append(run_child(__file__, [kind, path, str(args.threads),
                                                   str(args.gen), str(args.prompt)]))
            print(f"round {r + 1}/{args.rounds} {kind:4s} "
                  f"decode {rows[kind][-1]['decode_tokens_per_second']:.1f} tok/s", flush=True)
        for key, fa in CPP_ANCHORS if bench is not None else ():
            rows.setdefault(key, []).append(bench(fa))
            print(f"round {r + 1}/{args.rounds} llama-bench tg{args.gen} "
                  f"{'-fa ' + str(fa) if fa is not None else 'default'} "
                  f"{rows[key][-1]:.1f} tok/s", flush=True)
    table = _summarise(rows, median_of)
    if bench is not None:
        import statistics

        ours = table["decode_tokens_per_second"]["ours"]
        for key, _ in CPP_ANCHORS:
            tg = statistics.median(rows[key])
            table[key + "_tg"] = {"llama_bench": tg, "ours": ours, "ratio": ours / tg}
    md = _markdown(table, args, path)
    print("\n" + md)
    payload = {"benchmark": "decode", "model": args.model, "path": path,
               "threads": args.threads, "rounds": args.rounds, "machine": machine(),
               "median": table, "runs": rows}
    print(f"saved {save('decode', payload, md)}")
    return 0


METRICS = [  # key, label, better
    ("load_seconds", "load time (s)", "lower"),
    ("prompt_tokens_per_second", "prompt tokens/s", "higher"),
    ("ttft_seconds", "time to first token (s)", "lower"),
    ("decode_tokens_per_second", "decode tokens/s", "higher"),
    ("peak_rss_mb", "peak RSS (MB)", "lower"),
]


# llama-bench with slmkit's settings (flash attention as SLM_FLASH_ATTN: the anchor of the
# target), and with the other attention kernel for context
CPP_ANCHORS = (("llama_bench", int(flash_attn())),
               ("llama_bench_other_fa", int(not flash_attn())))


def _cpp_bench(args, path: str):
    """A callable giving llama-bench's tg tokens/s (built on first use), or None."""
    if args.no_cpp:
        return None
    from _cpp import bench_tg, binaries

    binaries()
    return lambda fa: bench_tg(path, args.threads, n_gen=args.gen, reps=3, flash_attn=fa)


def _summarise(rows, median_of) -> dict:
    out = {}
    for key, _, _ in METRICS:
        ours, raw = median_of(rows["ours"], key), median_of(rows["raw"], key)
        out[key] = {"ours": ours, "raw": raw, "ratio": ours / raw if raw else float("nan")}
    return out


def _markdown(table: dict, args, path: str) -> str:
    from _common import machine

    m = machine()
    lines = [f"decode benchmark · {args.model} · {args.threads} threads · median of "
             f"{args.rounds} runs · {m['cpu']}, {m['physical_cores']} cores",
             "", "| metric | slmkit | llama-cpp-python (raw) | ratio |", "|---|---|---|---|"]
    for key, label, _ in METRICS:
        row = table[key]
        lines.append(f"| {label} | {row['ours']:.3g} | {row['raw']:.3g} | {row['ratio']:.2f}× |")
    d, lt = table["decode_tokens_per_second"]["ratio"], table["load_seconds"]["ratio"]
    cpp, other = table.get("llama_bench_tg"), table.get("llama_bench_other_fa_tg")
    fa = int(flash_attn())
    if cpp:
        lines.append(f"| decode tokens/s vs llama-bench tg{args.gen} -fa {fa} (C++, same "
                     f"settings) | {cpp['ours']:.3g} | {cpp['llama_bench']:.3g} | "
                     f"{cpp['ratio']:.2f}× |")
    if other:
        lines.append(f"| decode tokens/s vs llama-bench tg{args.gen} -fa {1 - fa} (the other "
                     f"attention kernel) | {other['ours']:.3g} | {other['llama_bench']:.3g} | "
                     f"{other['ratio']:.2f}× |")
    lines += ["", f"targets: decode ≥ 0.95× raw → {d:.2f}× {'PASS' if d >= 0.95 else 'FAIL'}; "
                  f"load ≤ 1.1× raw → {lt:.2f}× {'PASS' if lt <= 1.1 else 'FAIL'}"]
    if cpp:
        lines[-1] += (f"; decode ≥ 0.95× llama-bench → {cpp['ratio']:.2f}× "
                      f"{'PASS' if cpp['ratio'] >= 0.95 else 'FAIL'}")
    return "\n".join(lines) + "\n"


def _model_path(model: str) -> str:
    if model.endswith(".gguf"):
        return model
    from slmkit.models.store import Store

    return Store().resolve(model).path


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        kind, model, threads, n_gen, n_prompt = sys.argv[2:7]
        print(json.dumps(child(kind, model, int(threads), int(n_gen), int(n_prompt))))
        return 0
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="smollm2-135m-instruct")
    p.add_argument("--threads", type=int, default=0, help="default: physical cores")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--gen", type=int, default=128)
    p.add_argument("--prompt", type=int, default=512)
    p.add_argument("--no-cpp", action="store_true",
                   help="skip the llama-bench anchor (no C++ build)")
    args = p.parse_args()
    if args.threads <= 0:
        from slmkit.util.threads import physical_threads

        args.threads = physical_threads()
    return parent(args)


if __name__ == "__main__":
    sys.exit(main())
