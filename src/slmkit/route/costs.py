"""Prices of remote models and the escalation budget.

Prices are USD per million tokens (input, output). The built-in table holds a few public
list prices as examples only; a company's negotiated prices belong in a JSON file
(``{"model": [input, output], ...}``) passed with ``--prices``. Unknown models cost 0 and
say so in the report rather than guessing.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

# USD per 1M tokens (input, output); public list prices, for examples and defaults only.
EXAMPLE_PRICES: dict[str, tuple[float, float]] = {
    "gpt-4o": (2.50, 10.00),
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "claude-3-5-sonnet": (3.00, 15.00),
    "claude-3-5-haiku": (0.80, 4.00),
}

PERIODS = {"minute": 60.0, "hour": 3600.0, "day": 86400.0, "week": 7 * 86400.0,
           "month": 30 * 86400.0}


@dataclass(frozen=True)
class PriceTable:
    """Model name → (input, output) USD per million tokens."""

    prices: dict[str, tuple[float, float]]

    def known(self, model: str) -> bool:
        return self._lookup(model) is not None

    def cost(self, model: str, prompt_tokens: int, completion_tokens: int) -> float:
        """USD for one request (0 for a model without a price)."""
        price = self._lookup(model)
        if price is None:
            return 0.0
        return (prompt_tokens * price[0] + completion_tokens * price[1]) / 1e6

    def _lookup(self, model: str) -> tuple[float, float] | None:
        if model in self.prices:
            return self.prices[model]
        # "gpt-4o-2024-08-06" → "gpt-4o": the longest known prefix
        hits = [k for k in self.prices if model.startswith(k)]
        return self.prices[max(hits, key=len)] if hits else None

    @classmethod
    def load(cls, path: str | os.PathLike | None = None,
             extra: dict[str, tuple[float, float]] | None = None,
             base: dict[str, tuple[float, float]] | None = None) -> PriceTable:
        """Example prices and ``base`` (a backend's own table, e.g. Bedrock's), overridden
        by a JSON file and then by ``extra``."""
        prices = {**EXAMPLE_PRICES, **(base or {})}
        if path:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            prices.update({k: (float(v[0]), float(v[1])) for k, v in data.items()})
        prices.update(extra or {})
        return cls(prices)


@dataclass(frozen=True)
class Budget:
    """Limits on escalation per period (None = unlimited). Spent amounts come from the
    ledger, so a restart does not reset them."""

    period: str = "day"
    max_requests: int | None = None
    max_tokens: int | None = None
    max_cost: float | None = None

    def __post_init__(self) -> None:
        if self.period not in PERIODS:
            raise ValueError(f"unknown budget period {self.period!r}; "
                             f"use one of {', '.join(PERIODS)}")

    def period_start(self, now: float | None = None) -> float:
        """Start of the current period (aligned to UTC multiples of its length)."""
        length = PERIODS[self.period]
        now = time.time() if now is None else now
        return now - now % length

    def exhausted(self, requests: int, tokens: int, cost: float) -> str | None:
        """Which limit the spent amounts reach, or None."""
        if self.max_requests is not None and requests >= self.max_requests:
            return f"requests {requests}/{self.max_requests} per {self.period}"
        if self.max_tokens is not None and tokens >= self.max_tokens:
            return f"tokens {tokens}/{self.max_tokens} per {self.period}"
        if self.max_cost is not None and cost >= self.max_cost:
            return f"cost ${cost:.4f}/${self.max_cost:g} per {self.period}"
        return None

    @property
    def unlimited(self) -> bool:
        return self.max_requests is None and self.max_tokens is None and self.max_cost is None

    @classmethod
    def parse(cls, spec: str) -> Budget:
        """``"requests=500,tokens=200000,cost=5,period=day"`` (any subset; empty: none)."""
        fields = {"requests": "max_requests", "tokens": "max_tokens", "cost": "max_cost"}
        kw: dict = {}
        for part in filter(None, (p.strip() for p in spec.split(","))):
            key, sep, value = part.partition("=")
            key = key.strip()
            if not sep or key not in (*fields, "period"):
                raise ValueError(f"--budget: {part!r} is not requests=N, tokens=N, cost=X or "
                                 "period=hour|day|week|month")
            if key == "period":
                kw["period"] = value.strip()
            else:
                kw[fields[key]] = float(value) if key == "cost" else int(value)
        return cls(**kw)
