"""Where one stream's per-token time goes: cProfile of the scheduler thread during a greedy
128-token decode (what `slm run` does), split into llama_decode and the Python around it.

    python benchmarks/profile_decode.py [--model NAME|PATH] [--threads N] [--speculate off]

Prints the top functions by own time (thread CPU time, so other processes' load does not
count) and the Python microseconds per generated token outside llama_decode.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import time
from pathlib import Path


def profile(path: str, threads: int, n_gen: int, speculate: str) -> tuple[str, dict]:
    from slmkit.core.types import GREEDY, GenerateRequest, collect
    from slmkit.runtime import load_engine
    from slmkit.runtime.llamacpp import scheduler as sched

    prof = cProfile.Profile(time.thread_time)
    original = sched.Scheduler._loop

    def loop(self):
        prof.enable()
        try:
            original(self)
        finally:
            prof.disable()
    sched.Scheduler._loop = loop
    try:
        eng = load_engine(path, n_ctx=4096, n_threads=threads, speculate=speculate)
    finally:
        sched.Scheduler._loop = original
    collect(eng.generate(GenerateRequest(prompt="Once upon a time", max_tokens=8,
                                         sampling=GREEDY)))  # warm up
    out = collect(eng.generate(GenerateRequest(prompt="Once upon a time", max_tokens=n_gen,
                                               sampling=GREEDY)))
    eng.close()
    stats = pstats.Stats(prof)
    buf = io.StringIO()
    stats.stream = buf
    stats.sort_stats("tottime").print_stats(14)
    total = sum(v[2] for v in stats.stats.values())  # own time of every function
    decode = sum(v[2] for k, v in stats.stats.items()  # LlamaModel.decode: fills the batch,
                 if k[0].endswith("model.py") and k[2] == "decode")  # then llama_decode
    n = out.usage.completion_tokens + 8
    summary = {"tokens": n, "thread_cpu_us_per_token": 1e6 * total / n,
               "python_us_per_token": 1e6 * (total - decode) / n,
               "decode_tokens_per_second": out.usage.decode_tokens_per_second}
    return buf.getvalue(), summary


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="smollm2-135m-instruct")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--gen", type=int, default=128)
    p.add_argument("--speculate", default="off", choices=("auto", "on", "off"))
    args = p.parse_args()
    sys.path.insert(0, str(Path(__file__).parent))
    from decode import _model_path

    text, summary = profile(_model_path(args.model), args.threads, args.gen, args.speculate)
    print(text)
    print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
