"""Full-vocabulary logits for every position of a sequence (perplexity, KL-divergence,
choice scoring).

``token_logprobs`` returns Python objects per position; the evaluation needs whole rows
(49k floats each) as one array. This runs as a job on the engine's scheduler thread with
an idle slot — the same way ``LlamaCppEngine.token_logprobs`` does — decoding in
``n_batch`` pieces and asking llama.cpp for logits only at the rows wanted.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from slmkit.core.errors import ContextOverflowError


def sequence_logits(engine, tokens: Sequence[int], *, first: int = 0,
                    adapter: str | None = None) -> np.ndarray:
    """Raw next-token logits for positions ``first…len(tokens)-1`` of ``tokens``, float32
    ``[len(tokens) - first, n_vocab]``; row ``j`` is the distribution of the token that
    follows ``tokens[:first + j + 1]`` (with the LoRA ``adapter`` applied, if named)."""
    engine._check_open()
    tokens = [int(t) for t in tokens]
    if len(tokens) > engine.n_ctx_slot:
        raise ContextOverflowError(len(tokens), engine.n_ctx_slot)
    if not 0 <= first < len(tokens):
        raise ValueError(f"first must be in [0, {len(tokens)}), got {first}")
    model = engine._model
    engine.check_adapter(adapter)
    return engine._scheduler.call(lambda slot: _decode_rows(model, slot, tokens, first),
                                  adapter=adapter)


def _decode_rows(model, slot, tokens: list[int], first: int) -> np.ndarray:
    """Runs on the scheduler thread; ``slot`` arrives empty (its cache cleared)."""
    out = np.empty((len(tokens) - first, model.n_vocab), dtype=np.float32)
    step = model.n_batch
    for lo in range(0, len(tokens), step):
        piece = tokens[lo:lo + step]
        model.decode([(t, lo + i, slot.seq_id, lo + i >= first) for i, t in enumerate(piece)])
        slot.tokens.extend(piece)
        for i in range(max(0, first - lo), len(piece)):
            out[lo + i - first] = model.logits(i)
    return out
