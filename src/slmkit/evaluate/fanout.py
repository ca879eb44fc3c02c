"""`slm eval --ray`: perplexity and multiple-choice accuracy with the scoring fanned out.

The text is tokenized and the questions are picked here, as in a local run; the scoring is
split into ``shards`` contiguous parts, each run by ``fan_out(work, parts)`` (e.g. Ray
tasks: :class:`slmkit.scale.ray_batch.RayFanOut`) in a worker that opens its own engine
with ``make_engine`` (a picklable callable, e.g. ``functools.partial(load, path, ...)``).
The parts' results are joined in order, so the numbers are the local run's: the same
pieces and items scored by the same model file.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from slmkit.evaluate import choice, perplexity

FanOut = Callable[[Callable, list], list]


def shards_of(items: Sequence, shards: int) -> list[list]:
    """``items`` cut into at most ``shards`` contiguous, non-empty parts of near-equal size."""
    if shards < 1:
        raise ValueError(f"shards must be at least 1, got {shards}")
    n = min(shards, len(items)) or 1
    size, extra = divmod(len(items), n)
    out, start = [], 0
    for i in range(n):
        stop = start + size + (i < extra)
        out.append(list(items[start:stop]))
        start = stop
    return [part for part in out if part]


def perplexity_fanned(engine, text: str, *, make_engine: Callable, fan_out: FanOut,
                      shards: int, chunk: int = perplexity.DEFAULT_CHUNK,
                      max_chunks: int | None = None) -> perplexity.PerplexityResult:
    """:func:`slmkit.evaluate.perplexity.perplexity` with the pieces scored in ``shards``
    workers; ``engine`` (the same model) only tokenizes."""
    pieces, n_tokens = perplexity.prepare(engine, text, chunk, max_chunks)
    t0 = time.perf_counter()
    parts = fan_out(_score_part, [(make_engine, part, chunk // 2)
                                  for part in shards_of(pieces, shards)])
    nll = [row for part in parts for row in part]
    return perplexity.result(nll, chunk, n_tokens, time.perf_counter() - t0)


def choice_fanned(items: Sequence, *, make_engine: Callable, fan_out: FanOut, shards: int,
                  shots: int = 0, limit: int | None = None,
                  mode: str = "letter") -> choice.ChoiceResult:
    """:func:`slmkit.evaluate.choice.choice_accuracy` with the items scored in ``shards``
    workers."""
    examples, scored = choice.split(items, shots, limit, mode)
    t0 = time.perf_counter()
    parts = fan_out(_predict_part, [(make_engine, part, examples, mode)
                                    for part in shards_of(scored, shards)])
    preds = [p for part in parts for p in part]
    return choice.result(preds, scored, shots, mode, time.perf_counter() - t0)


def _score_part(make_engine: Callable, pieces: list, first: int) -> list:
    engine = make_engine()
    try:
        return perplexity.score_pieces(engine, pieces, first)
    finally:
        engine.close()


def _predict_part(make_engine: Callable, scored: list, examples: list, mode: str) -> list[int]:
    engine = make_engine()
    try:
        return choice.predict(engine, scored, examples, mode)
    finally:
        engine.close()
