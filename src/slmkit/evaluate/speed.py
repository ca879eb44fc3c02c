"""Speed and memory of a model on an engine: load time, prompt processing at 128 and 512
tokens, decode rate, time to first token, peak RSS.

Every configuration is measured in a fresh Python process (``python -m
slmkit.evaluate.speed CONFIG_JSON``), so load time includes importing the backend and
peak RSS is that model's alone. Inside the child each measurement is repeated and the
median kept; prompts start with different text each time so no cached prefix helps.
:func:`compare` runs several configurations and adds ratios against the first (the
anchor), measured in the same run — this machine is noisy, ratios are what carry over.
"""

from __future__ import annotations

import json
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field

PROMPT_SIZES = (128, 512)
DECODE_PROMPT = "Once upon a time"
TTFT_MESSAGE = "Give me one tip for writing clear emails."
_WORDS = ["the", "river", "carried", "spring", "water", "from", "the", "mountains", "past", "old", "mills", "and", "orchards", "into", "a", "wide", "valley", "where", "a", "small", "town", "had", "stood", "for", "centuries", "while", "traders", "came", "and", "went", "along", "the", "roads", "that", "followed", "the", "banks"]

# metric key, label, unit, better
METRICS: tuple[tuple[str, str, str, str], ...] = (
    ("load_seconds", "load", "s", "lower"),
    ("prompt_128_tps", "prompt 128", "tok/s", "higher"),
    ("prompt_512_tps", "prompt 512", "tok/s", "higher"),
    ("decode_tps", "decode", "tok/s", "higher"),
    ("ttft_seconds", "time to first token", "s", "lower"),
    ("peak_rss_mb", "peak RSS", "MB", "lower"),
)


@dataclass
class BenchConfig:
    """One thing to measure: a model path on an engine with a thread count."""

    model: str
    path: str
    engine: str = "llamacpp"
    threads: int = 0
    n_ctx: int = 2048
    gen: int = 128
    repeat: int = 3

    @property
    def label(self) -> str:
        return f"{self.model}@{self.engine}"


@dataclass
class BenchResult:
    config: BenchConfig
    metrics: dict[str, float]
    detail: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"label": self.config.label, **asdict(self)}


def _filler(n_words: int, start: int) -> str:
    return " ".join(_WORDS[(start + i) % len(_WORDS)] for i in range(n_words))


def measure(config: BenchConfig) -> dict:
    """Run in the child process: load, warm up, measure; returns the metrics and detail."""
    from slmkit.core.types import GREEDY, GenerateRequest, collect
    from slmkit.runtime import load_engine

    t0 = time.perf_counter()
    engine = load_engine(config.path, backend=config.engine, name=config.model,
                         n_ctx=config.n_ctx, n_threads=config.threads)
    load = time.perf_counter() - t0
    try:
        collect(engine.generate(GenerateRequest(prompt="Hello", max_tokens=4, sampling=GREEDY)))
        out: dict[str, float | None] = {"load_seconds": load}
        detail: dict = {"threads": engine.n_threads,
                        "quantization": engine.info.quantization}
        for size in PROMPT_SIZES:
            if size >= engine.info.n_ctx:
                out[f"prompt_{size}_tps"] = None  # does not fit this model's context
                continue
            rates = []
            for r in range(config.repeat):
                ids = engine.tokenize(_filler(size * 2, 7 * r + size), add_special=True)[:size]
                done = collect(engine.generate(GenerateRequest(prompt_tokens=ids, max_tokens=1,
                                                               sampling=GREEDY)))
                rates.append(done.usage.prompt_tokens_per_second)
            out[f"prompt_{size}_tps"] = statistics.median(rates)
        decode, generated = [], []
        for _ in range(config.repeat):
            done = collect(engine.generate(GenerateRequest(
                prompt=DECODE_PROMPT, max_tokens=config.gen, sampling=GREEDY)))
            decode.append(done.usage.decode_tokens_per_second)
            generated.append(done.usage.completion_tokens)
        out["decode_tps"] = statistics.median(decode)
        detail["decode_tokens"] = generated
        out["ttft_seconds"] = statistics.median(_ttft(engine, r) for r in range(config.repeat))
        out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        return {"metrics": out, "detail": detail}
    finally:
        engine.close()


def _ttft(engine, round_: int) -> float:
    from slmkit.core.types import GREEDY, ChatMessage, GenerateRequest

    msg = ChatMessage("user", f"({round_ + 1}) {TTFT_MESSAGE}")
    t0 = time.perf_counter()
    stream = engine.generate(GenerateRequest(messages=[msg], max_tokens=8, sampling=GREEDY))
    try:
        for chunk in stream:
            if chunk.token_ids or chunk.finish_reason:
                return time.perf_counter() - t0
    finally:
        stream.close()
    return time.perf_counter() - t0


def run_isolated(config: BenchConfig, *, timeout: float | None = None) -> BenchResult:
    """Measure ``config`` in a fresh interpreter; ``SlmError`` with its stderr on failure."""
    from slmkit.core.errors import SlmError

    proc = subprocess.run([sys.executable, "-m", "slmkit.evaluate.speed",
                           json.dumps(asdict(config))], capture_output=True, text=True, check=False,
                          timeout=timeout)
    if proc.returncode != 0:
        tail = " | ".join(proc.stderr.strip().splitlines()[-3:])
        raise SlmError(f"benchmark of {config.label} failed: {tail}")
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    return BenchResult(config, got["metrics"], got["detail"])


def compare(configs: list[BenchConfig], *, progress=None) -> dict:
    """Measure every config (each in its own process); ratios are against the first."""
    results = []
    for i, config in enumerate(configs):
        if progress:
            progress("bench", i, len(configs))
        results.append(run_isolated(config))
        if progress:
            progress("bench", i + 1, len(configs))
    anchor = results[0].metrics
    ratios = [{k: (r.metrics[k] / anchor[k] if anchor.get(k) and r.metrics.get(k) is not None
                   else None) for k, *_ in METRICS} for r in results]
    return {"results": [r.to_dict() for r in results], "ratios": ratios,
            "anchor": results[0].config.label}


def main(argv: list[str]) -> int:
    config = BenchConfig(**json.loads(argv[0]))
    print(json.dumps(measure(config)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
