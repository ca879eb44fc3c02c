"""Decode speed per model, as the web UI's models page shows it.

- :class:`RecentSpeeds`: tokens/s of the last generations this server ran for each model
  (fed by :class:`slmkit.serve.metrics.GenerationObserver`), so a model that has answered
  shows its real speed on this machine without any benchmark.
- :func:`measure`: one short fixed generation (greedy, a fixed prompt, ``MEASURE_TOKENS``
  tokens) on a loaded engine — what the page's "Measure" button runs; the result is kept
  by the model admin next to what ``slm bench`` recorded (``slmkit.models.speeds``).
"""

from __future__ import annotations

import statistics
import threading
import time
from collections import deque
from typing import Any

from slmkit.core.types import GREEDY, GenerateRequest, Usage, collect

KEEP = 20  # generations remembered per model
MIN_TOKENS = 4  # shorter answers say little about the decode rate
MEASURE_PROMPT = "Once upon a time"
MEASURE_TOKENS = 64


class RecentSpeeds:
    """Decode tokens/s of the last ``KEEP`` generations of each model (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: dict[str, deque[tuple[float, int]]] = {}
        self._at: dict[str, float] = {}

    def observe(self, model: str, usage: Usage | None) -> None:
        """Record one finished generation (ignored when too short to time)."""
        if usage is None or usage.completion_tokens < MIN_TOKENS or usage.decode_seconds <= 0:
            return
        with self._lock:
            seen = self._seen.setdefault(model, deque(maxlen=KEEP))
            seen.append((usage.decode_tokens_per_second, usage.completion_tokens))
            self._at[model] = time.time()

    def get(self, model: str) -> dict[str, Any] | None:
        """``{"decode_tps", "generations", "tokens", "at"}`` (the median over the recent
        generations; ``at``: epoch seconds of the last) or None when it has not answered."""
        with self._lock:
            seen = list(self._seen.get(model, ()))
            at = self._at.get(model)
        if not seen:
            return None
        return {"decode_tps": round(statistics.median(s for s, _ in seen), 2),
                "generations": len(seen), "tokens": sum(n for _, n in seen), "at": at,
                "source": "recent"}


def measure(engine) -> dict[str, Any]:
    """Decode speed of ``engine`` from one short greedy generation of a fixed prompt:
    ``{"decode_tps", "prompt_tps", "tokens", "seconds", "at", "source": "measured"}``."""
    t0 = time.perf_counter()
    done = collect(engine.generate(GenerateRequest(prompt=MEASURE_PROMPT,
                                                   max_tokens=MEASURE_TOKENS, sampling=GREEDY)))
    usage = done.usage
    if usage is None or usage.completion_tokens < 2:
        raise ValueError("the model stopped before it could be timed (fewer than 2 tokens); "
                         "measure it with `slm bench MODEL` instead")
    return {"decode_tps": round(usage.decode_tokens_per_second, 2),
            "prompt_tps": round(usage.prompt_tokens_per_second, 2),
            "tokens": usage.completion_tokens, "seconds": round(time.perf_counter() - t0, 3),
            "at": time.time(), "source": "measured"}
