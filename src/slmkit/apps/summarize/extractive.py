"""Extractive summaries without a model: the first sentences (lead-k) and a TextRank-style
ranking (sentences as graph nodes, word-overlap edges, PageRank). The evaluation's
baselines, and a fallback ranking of source sentences."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from slmkit.apps.text import words


def lead(sentences: Sequence[str], k: int = 3) -> list[int]:
    """The first ``k`` sentence indices."""
    return list(range(min(k, len(sentences))))


def similarity(a: set[str], b: set[str], na: int, nb: int) -> float:
    """TextRank's sentence similarity: shared words over the log of the lengths."""
    shared = len(a & b)
    if not shared or na < 2 or nb < 2:
        return float(shared > 0) * 0.5 if shared else 0.0
    return shared / (math.log(na) + math.log(nb))


def textrank(sentences: Sequence[str], k: int = 3, *, damping: float = 0.85,
             iterations: int = 50, tokens: Callable[[str], list[str]] = words) -> list[int]:
    """The ``k`` most central sentences (indices, in document order)."""
    n = len(sentences)
    if n <= k:
        return list(range(n))
    toks = [tokens(s) for s in sentences]
    sets = [set(t) for t in toks]
    weights = [[0.0 if i == j else similarity(sets[i], sets[j], len(toks[i]), len(toks[j]))
                for j in range(n)] for i in range(n)]
    out_sum = [sum(row) or 1.0 for row in weights]
    score = [1.0 / n] * n
    for _ in range(iterations):
        score = [(1 - damping) / n + damping * sum(weights[j][i] * score[j] / out_sum[j]
                                                   for j in range(n)) for i in range(n)]
    best = sorted(range(n), key=lambda i: (-score[i], i))[:k]
    return sorted(best)
