"""What the measurements ask of an engine, on top of ``core.Engine``.

Engines that declare ``capabilities.logits`` (llama.cpp, torch, onnx) return the
full-vocabulary logits of positions ``first…`` as one float32 array
(``Engine.logits``). KL-divergence needs those whole rows; perplexity and choice scoring
only need the log-probability of the actual next token, which any ``core.Engine`` gives
through ``token_logprobs`` (used as the fallback).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from slmkit.core.engine import require
from slmkit.runtime.logprobs import log_softmax  # noqa: F401 - re-exported (choice, kld)


def has_logits(engine) -> bool:
    """Whether the engine declares full-vocabulary logits (``capabilities.logits``)."""
    return engine.info.capabilities.logits


def logits(engine, tokens: Sequence[int], first: int = 0) -> np.ndarray:
    """Rows of raw logits for positions ``first…len(tokens)-1`` (float32 [n, n_vocab]);
    ``UnsupportedOperationError`` for an engine without ``capabilities.logits``."""
    require(engine, "logits", hint="use the llamacpp, torch or onnx engine for KL-divergence")
    return engine.logits(tokens, first=first)


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
