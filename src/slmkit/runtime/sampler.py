"""Token sampling in Python with llama.cpp's semantics, for the engines that sample
outside llama.cpp (torch, onnx: :mod:`slmkit.runtime.pyloop`).

The chain and its order are llama.cpp's defaults: penalties → top-k → top-p → min-p →
temperature → draw; greedy requests apply the penalties, then take the argmax. The
filters act on temperature-1 probabilities, exactly as llama.cpp's do, so one
``SamplingParams`` means the same thing on every engine. Rows of logits may be numpy
arrays or CPU torch tensors (anything ``numpy.asarray`` reads); the draw uses numpy's
generator, so the same seed and logits give the same tokens whichever backend made them.
Only llama.cpp draws with its own RNG.
"""

from __future__ import annotations

import collections
import secrets

import numpy as np

from slmkit.core.types import SamplingParams


class TokenSampler:
    """Samples one sequence's tokens from rows of logits; remembers what it accepted
    (the repeat penalty looks at the last ``repeat_last_n`` accepted tokens)."""

    def __init__(self, params: SamplingParams) -> None:
        self.params = params
        self.seed = params.seed if params.seed is not None else secrets.randbits(31)
        self._rng = np.random.default_rng(self.seed)
        n = params.repeat_last_n
        self._recent: collections.deque[int] = collections.deque(maxlen=n if n > 0 else None)

    def sample(self, logits) -> int:
        """Choose the next token from a 1-D row of logits and accept it."""
        x = self._penalize(np.asarray(logits, dtype=np.float32))
        token = int(np.argmax(x)) if self.params.greedy else self._draw(x)
        self.accept(token)
        return token

    def accept(self, token: int) -> None:
        if self.params.repeat_last_n != 0:
            self._recent.append(token)

    def _penalize(self, x: np.ndarray) -> np.ndarray:
        p = self.params
        if p.repeat_penalty == 1.0 or not self._recent:
            return x
        ids = np.array(sorted(set(self._recent)), dtype=np.int64)
        ids = ids[ids < x.size]
        vals = x[ids]
        x = x.copy()
        x[ids] = np.where(vals <= 0, vals * p.repeat_penalty, vals / p.repeat_penalty)
        return x

    def _draw(self, x: np.ndarray) -> int:
        p = self.params
        k = p.top_k if 0 < p.top_k < x.size else x.size
        ids = np.argpartition(-x, k - 1)[:k] if k < x.size else np.arange(x.size)
        ids = ids[np.argsort(-x[ids], kind="stable")]
        vals = x[ids].astype(np.float64)  # sorted, best first
        if p.top_p < 1.0:
            cum = np.cumsum(_softmax(vals))
            # keep up to and including the first token where the mass reaches top_p
            keep = int(np.searchsorted(cum, p.top_p)) + 1
            n = max(1, min(keep, vals.size))
            vals, ids = vals[:n], ids[:n]
        if p.min_p > 0.0:
            floor = vals[0] + np.log(p.min_p)
            n = max(1, int((vals >= floor).sum()))
            vals, ids = vals[:n], ids[:n]
        probs = _softmax(vals / p.temperature)
        return int(ids[self._rng.choice(ids.size, p=probs)])


def _softmax(v: np.ndarray) -> np.ndarray:
    e = np.exp(v - v.max())
    return e / e.sum()
