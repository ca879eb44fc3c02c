"""A JSON twin of ``/metrics`` for the web UI's Operations page.

The same collector registry that Prometheus scrapes, summed per metric (over models and
routes), with histogram percentiles estimated from their buckets the way Prometheus'
``histogram_quantile`` does, plus the per-model gauges. The page polls it and derives
rates (tokens/s) from successive counter values.
"""

from __future__ import annotations

import time
from typing import Any

COUNTERS = ("slm_requests", "slm_prompt_tokens", "slm_completion_tokens", "slm_generations",
            "slm_prompt_cached_tokens")
HISTOGRAMS = ("slm_time_to_first_token_seconds", "slm_inter_token_latency_seconds",
              "slm_request_duration_seconds")
GAUGES = ("slm_queue_depth", "slm_busy_slots", "slm_slots", "slm_model_memory_bytes")


def snapshot(collector_registry) -> dict[str, Any]:
    """``{time, counters, percentiles, models, loaded_models}`` read from the registry."""
    counters: dict[str, float] = dict.fromkeys(COUNTERS, 0.0)
    buckets: dict[str, dict[float, float]] = {h: {} for h in HISTOGRAMS}
    models: dict[str, dict[str, float]] = {}
    loaded = 0
    for family in collector_registry.collect():
        for s in family.samples:
            name = s.name.removesuffix("_total")
            if name in counters:
                counters[name] += s.value
            elif s.name.endswith("_bucket") and s.name[:-7] in buckets:
                le = float(s.labels["le"])
                hist = buckets[s.name[:-7]]
                hist[le] = hist.get(le, 0.0) + s.value
            elif s.name in GAUGES:
                model = models.setdefault(s.labels.get("model", ""), {})
                model[s.name.removeprefix("slm_")] = s.value
            elif s.name == "slm_loaded_models":
                loaded = int(s.value)
    percentiles = {name.removeprefix("slm_"): {f"p{int(q * 100)}": quantile(q, hist)
                                               for q in (0.5, 0.95)}
                   for name, hist in buckets.items()}
    return {"time": time.time(), "loaded_models": loaded,
            "counters": {k.removeprefix("slm_"): v for k, v in counters.items()},
            "percentiles": percentiles,
            "models": [{"name": n, **v} for n, v in sorted(models.items())]}


def quantile(q: float, cumulative: dict[float, float]) -> float | None:
    """The ``q`` quantile of a histogram given as cumulative counts by upper bound,
    interpolated linearly inside the bucket (None when it is empty)."""
    bounds = sorted(cumulative)
    if not bounds or cumulative[bounds[-1]] <= 0:
        return None
    rank = q * cumulative[bounds[-1]]
    lower, below = 0.0, 0.0
    for upper in bounds:
        count = cumulative[upper]
        if count >= rank:
            if upper == float("inf"):
                return lower
            inside = count - below
            return lower + (upper - lower) * ((rank - below) / inside if inside else 1.0)
        lower, below = upper, count
    return lower
