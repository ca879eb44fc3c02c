"""Log-probabilities from a row of logits (numpy, vectorised)."""

from __future__ import annotations

import numpy as np


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """log p over the vocabulary for one row (float64 for a stable sum)."""
    x = logits.astype(np.float64, copy=False)
    shifted = x - x.max()
    return shifted - np.log(np.exp(shifted).sum())


def top_k(logp: np.ndarray, k: int) -> list[tuple[int, float]]:
    """The ``k`` most likely token ids with their log-probabilities, best first."""
    if k <= 0:
        return []
    k = min(k, logp.shape[0])
    idx = np.argpartition(-logp, k - 1)[:k]
    idx = idx[np.argsort(-logp[idx], kind="stable")]
    return [(int(i), float(logp[i])) for i in idx]
