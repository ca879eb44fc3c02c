"""Variable masking before template mining: regexes that turn values into ``<*>``.

Masks apply token by token (a log line split on whitespace) and each token's result is
cached, so a token seen before costs one dict lookup. ``DEFAULT_MASKS`` suits unknown logs;
``LOGHUB_MASKS`` are the per-system preprocessing regexes of the Loghub benchmark
(logpai/logparser), used by the evaluation so our parser and drain3 see the same input.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

WILDCARD = "<*>"

# Generic masks for unknown logs: addresses, ids, hex, paths with numbers, numbers.
DEFAULT_MASKS: tuple[str, ...] = (
    r"(?:\d{1,3}\.){3}\d{1,3}(?::\d+)?",                      # IPv4[:port]
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",  # UUID
    r"\b0x[0-9a-fA-F]+\b",                                   # hex literal
    r"\b[0-9a-fA-F]{12,}\b",                                 # long hex ids, hashes
    r"\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}:\d{2}(?:[.,]\d+)?Z?)?",  # ISO date[time]
    r"\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?",                      # time of day
    r"(?<![A-Za-z0-9])[-+]?\d+(?:\.\d+)?(?![A-Za-z0-9])",    # numbers (drain3's rule)
)

# Loghub benchmark preprocessing (logpai/logparser benchmark settings), per system.
LOGHUB_MASKS: dict[str, tuple[str, ...]] = {
    "HDFS": (r"blk_-?\d+", r"(\d+\.){3}\d+(:\d+)?"),
    "Hadoop": (r"(\d+\.){3}\d+",),
    "Spark": (r"(\d+\.){3}\d+", r"\b[KGTM]?B\b", r"([\w-]+\.){2,}[\w-]+"),
    "BGL": (r"core\.\d+",),
    "HPC": (r"=\d+",),
    "Thunderbird": (r"(\d+\.){3}\d+",),
    "Linux": (r"(\d+\.){3}\d+", r"\d{2}:\d{2}:\d{2}"),
    "HealthApp": (),
    "Apache": (r"(\d+\.){3}\d+",),
    "OpenStack": (r"((\d+\.){3}\d+,?)+", r"/.+?\s", r"\d+"),
}

# Loghub benchmark Drain settings per system: (similarity threshold, depth).
LOGHUB_DRAIN: dict[str, tuple[float, int]] = {
    "HDFS": (0.5, 4), "Hadoop": (0.5, 4), "Spark": (0.5, 4), "BGL": (0.5, 4),
    "HPC": (0.5, 4), "Thunderbird": (0.5, 4), "Linux": (0.39, 6), "HealthApp": (0.2, 4),
    "Apache": (0.5, 4), "OpenStack": (0.5, 5),
}


class Masker:
    """Masks the variable parts of tokens with ``<*>``; per-token results are cached."""

    def __init__(self, patterns: Sequence[str] = DEFAULT_MASKS, cache_size: int = 200_000):
        self.patterns = tuple(patterns)
        self._regexes = [re.compile(p) for p in self.patterns]
        # One search decides whether any mask applies (most new tokens need none).
        self._any = re.compile("|".join(f"(?:{p})" for p in self.patterns)) if patterns else None
        # A pattern that can match whitespace must see whole lines, not tokens.
        self.per_line = any(r"\s" in p or " " in p for p in self.patterns)
        self._cache: dict[str, str] = {}
        self._cache_size = cache_size

    def token(self, tok: str) -> str:
        """One token, masked."""
        hit = self._cache.get(tok)
        return hit if hit is not None else self._miss(tok)

    def _miss(self, tok: str) -> str:
        out = tok
        if self._any is None or self._any.search(tok) is None:
            return self._remember(tok, out)
        for rx in self._regexes:
            out = rx.sub(WILDCARD, out)
        return self._remember(tok, out)

    def _remember(self, tok: str, out: str) -> str:
        if len(self._cache) >= self._cache_size:
            self._cache.clear()
        self._cache[tok] = out
        return out

    def line(self, text: str) -> str:
        """A whole line masked as a string (regexes may span spaces, as in Loghub)."""
        for rx in self._regexes:
            text = rx.sub(WILDCARD, text)
        return text

    def tokens(self, text: str) -> tuple[list[str], list[str]]:
        """(original tokens, masked tokens) of one line."""
        raw = text.split()
        if self.per_line:
            return raw, self.line(text).split()
        get, miss = self._cache.get, self._miss
        return raw, [get(t) or miss(t) for t in raw]
