"""What the measurements ask of an engine, on top of ``core.Engine``.

Both slmkit engines also offer ``logits(tokens, first=0)``: the full-vocabulary logits of
positions ``first…`` as one float32 array. KL-divergence needs those whole rows; perplexity
and choice scoring only need the log-probability of the actual next token, which any
``core.Engine`` gives through ``token_logprobs`` (used as the fallback).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from slmkit.core.errors import SlmError


def has_logits(engine) -> bool:
    return callable(getattr(engine, "logits", None))


def logits(engine, tokens: Sequence[int], first: int = 0) -> np.ndarray:
    """Rows of raw logits for positions ``first…len(tokens)-1`` (float32 [n, n_vocab])."""
    if not has_logits(engine):
        raise SlmError(f"engine {type(engine).__name__} cannot return full-vocabulary logits",
                       hint="use the llamacpp or torch engine for KL-divergence")
    return engine.logits(tokens, first=first)


def log_softmax(rows: np.ndarray) -> np.ndarray:
    """Row-wise log-softmax in float64 (stable for 49k-wide rows). [n, V] → [n, V]."""
    x = rows.astype(np.float64, copy=False)
    m = x.max(axis=-1, keepdims=True)
    return x - (m + np.log(np.exp(x - m).sum(axis=-1, keepdims=True)))


def target_logprobs(engine, tokens: Sequence[int], first: int) -> np.ndarray:
    """log p(tokens[i+1] | tokens[:i+1]) for i = first … len(tokens)-2 (float64 [n])."""
    tokens = list(tokens)
    if has_logits(engine):
        rows = logits(engine, tokens, first)[:-1]  # the last row predicts past the end
        logp = log_softmax(rows)
        return logp[np.arange(len(rows)), tokens[first + 1:]]
    scored = engine.token_logprobs(tokens)
    return np.array([t.logprob for t in scored[first:]], dtype=np.float64)


def adds_bos(engine) -> int | None:
    """The BOS id the engine puts in front of text, or None when it adds none."""
    probe = engine.tokenize("", add_special=True)
    return probe[0] if probe else None
