"""Log-probabilities from a row of logits (numpy, vectorised).

Per generated token only the chosen token's log-probability and a few alternatives are
needed, so :func:`token_and_top` computes one log-sum-exp and never materialises the whole
log-softmax row (a 49k-entry float64 row cost ~0.9 ms per token; this costs ~0.1 ms).
"""

from __future__ import annotations

import numpy as np


def logsumexp(logits: np.ndarray) -> float:
    m = float(logits.max())
    return m + float(np.log(np.exp(logits - m, dtype=np.float32).sum(dtype=np.float64)))


def token_and_top(logits: np.ndarray, token: int, k: int) -> tuple[float, list[tuple[int, float]]]:
    """log p(token) and the ``k`` most likely (token id, log p), best first."""
    lse = logsumexp(logits)
    return float(logits[token]) - lse, [(i, float(logits[i]) - lse) for i in _top_ids(logits, k)]


def _top_ids(row: np.ndarray, k: int) -> list[int]:
    if k <= 0:
        return []
    k = min(k, row.shape[0])
    idx = np.argpartition(-row, k - 1)[:k]
    return [int(i) for i in idx[np.argsort(-row[idx], kind="stable")]]
