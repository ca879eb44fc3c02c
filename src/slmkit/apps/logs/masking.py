"""Variable masking before template mining: regexes that turn values into ``<*>``.

Masks apply token by token (a log line split on whitespace) and each token's result is
cached, so a token seen before costs one dict lookup. ``DEFAULT_MASKS`` suits unknown logs;
``LOGHUB_MASKS`` are the per-system preprocessing regexes of the Loghub benchmark
(logpai/logparser), used by the evaluation so our parser and drain3 see the same input.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from slmkit.apps.logs.regex_scope import token_local

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


_SEPARATORS = re.compile(r"(\s+)")


class _TokenStage:
    """Consecutive masks that act within a token: applied per token, results cached."""

    def __init__(self, regexes: list[re.Pattern], cache_size: int) -> None:
        self.regexes = regexes
        # One search decides whether any mask applies (most new tokens need none).
        self.any = re.compile("|".join(f"(?:{r.pattern})" for r in regexes))
        self.cache: dict[str, str] = {}
        self.cache_size = cache_size

    def token(self, tok: str) -> str:
        hit = self.cache.get(tok)
        return hit if hit is not None else self.miss(tok)

    def miss(self, tok: str) -> str:
        out = tok
        if self.any.search(tok) is not None:
            for rx in self.regexes:
                out = rx.sub(WILDCARD, out)
        if len(self.cache) >= self.cache_size:
            self.cache.clear()
        self.cache[tok] = out
        return out

    def tokens(self, toks: list[str]) -> list[str]:
        get, miss = self.cache.get, self.miss
        return [get(t) or miss(t) for t in toks]

    def text(self, text: str) -> str:
        """A whole text with this stage applied to each token, its whitespace kept."""
        parts = _SEPARATORS.split(text)
        parts[::2] = self.tokens(parts[::2])
        return "".join(parts)


class Masker:
    """Masks the variable parts of a line with ``<*>``.

    Masks apply in order, as Loghub applies them to the whole line. A mask that can neither
    match whitespace nor look at a line's start or end (``token_local``) gives the same
    result token by token, so runs of such masks work per token with a cache (a token seen
    before costs one dict lookup); the others (e.g. ``/.+?\\s``) run over the line between
    them."""

    def __init__(self, patterns: Sequence[str] = DEFAULT_MASKS, cache_size: int = 200_000):
        self.patterns = tuple(patterns)
        self._regexes = [re.compile(p) for p in self.patterns]
        groups: list[list[re.Pattern] | re.Pattern] = []
        for rx in self._regexes:
            if not token_local(rx.pattern):
                groups.append(rx)
            elif groups and isinstance(groups[-1], list):
                groups[-1].append(rx)
            else:
                groups.append([rx])
        self.stages = [_TokenStage(g, cache_size) if isinstance(g, list) else g for g in groups]
        self.per_line = any(not isinstance(s, _TokenStage) for s in self.stages)
        self._only = self.stages[0] if len(self.stages) == 1 and not self.per_line else None

    def token(self, tok: str) -> str:
        """One token, masked (the line-wide masks see it as a line of its own)."""
        return self.line(tok)

    def line(self, text: str) -> str:
        """A whole line masked as a string (regexes may span spaces, as in Loghub)."""
        return self._through(text, self.stages)

    def tokens(self, text: str) -> tuple[list[str], list[str]]:
        """(original tokens, masked tokens) of one line."""
        raw = text.split()
        if self._only is not None:
            return raw, self._only.tokens(raw)
        if not self.per_line:
            return raw, list(raw)
        stages = self.stages
        first, last = stages[0], stages[-1]
        if isinstance(first, _TokenStage) and " ".join(raw) == text:  # single spaces: no
            text, stages = " ".join(first.tokens(raw)), stages[1:]   # separators to keep
        if isinstance(last, _TokenStage) and stages and stages[-1] is last:
            return raw, last.tokens(self._through(text, stages[:-1]).split())
        return raw, self._through(text, stages).split()

    @staticmethod
    def _through(text: str, stages) -> str:
        for stage in stages:
            text = stage.text(text) if isinstance(stage, _TokenStage) else stage.sub(WILDCARD,
                                                                                      text)
        return text
