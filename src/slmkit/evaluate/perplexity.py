"""Perplexity the llama.cpp way (``llama-perplexity``), so numbers compare with its tool.

The text is tokenized once (with the model's BOS when it uses one) and cut into
``chunk``-token pieces; each piece is evaluated from an empty context with its first
token replaced by BOS (when the model uses one), and only the second half of each piece
is scored — every scored token sees at least ``chunk/2`` tokens of context. PPL is
``exp(mean NLL)`` over the scored tokens; its standard error is llama.cpp's:
``PPL · sqrt(var(NLL) / (N - 1))``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from slmkit.evaluate.scoring import adds_bos, target_logprobs

ProgressFn = Callable[[str, int, int], None]
DEFAULT_CHUNK = 512


@dataclass
class PerplexityResult:
    ppl: float
    ppl_se: float
    nll_mean: float
    n_chunks: int
    n_scored: int
    chunk: int
    n_tokens_text: int
    seconds: float

    @property
    def tokens_per_second(self) -> float:
        return self.n_chunks * self.chunk / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict:
        return {**asdict(self), "tokens_per_second": round(self.tokens_per_second, 2)}


def chunks(tokens: Sequence[int], chunk: int, max_chunks: int | None,
           bos: int | None) -> list[list[int]]:
    """The evaluation pieces: ``chunk`` tokens each, first token replaced by ``bos``."""
    n = len(tokens) // chunk
    if max_chunks is not None:
        n = min(n, max_chunks)
    out = []
    for c in range(n):
        piece = list(tokens[c * chunk:(c + 1) * chunk])
        if bos is not None:
            piece[0] = bos
        out.append(piece)
    return out


def nll_stats(nll: np.ndarray) -> tuple[float, float, float]:
    """(PPL, its standard error, mean NLL) from per-token negative log-likelihoods."""
    mean = float(nll.mean())
    ppl = math.exp(mean)
    var = float(((nll - mean) ** 2).mean())  # llama.cpp's <nll²> - <nll>², computed stably
    se = ppl * math.sqrt(var / (len(nll) - 1)) if len(nll) > 1 and var > 0 else 0.0
    return ppl, se, mean


def perplexity(engine, text: str, *, chunk: int = DEFAULT_CHUNK, max_chunks: int | None = None,
               progress: ProgressFn | None = None) -> PerplexityResult:
    """Perplexity of ``engine`` on ``text`` (see the module docstring for the method).
    Raises ``ValueError`` when the text is shorter than one chunk."""
    pieces, n_tokens = prepare(engine, text, chunk, max_chunks)
    t0 = time.perf_counter()
    nll = score_pieces(engine, pieces, chunk // 2, progress)
    return result(nll, chunk, n_tokens, time.perf_counter() - t0)


def prepare(engine, text: str, chunk: int, max_chunks: int | None) -> tuple[list, int]:
    """The pieces ``text`` is scored in and its token count, after checking ``chunk``."""
    if chunk < 4 or chunk % 2:
        raise ValueError(f"chunk must be an even number >= 4, got {chunk}")
    if engine.info.n_ctx < chunk:
        raise ValueError(f"chunks of {chunk} tokens need a context of at least {chunk} "
                         f"(the engine has {engine.info.n_ctx}): load it with --ctx {chunk}")
    tokens = engine.tokenize(text, add_special=True)
    pieces = chunks(tokens, chunk, max_chunks, adds_bos(engine))
    if not pieces:
        raise ValueError(f"the text has {len(tokens)} tokens: fewer than one chunk of {chunk}")
    return pieces, len(tokens)


def score_pieces(engine, pieces: Sequence[Sequence[int]], first: int,
                 progress: ProgressFn | None = None) -> list[np.ndarray]:
    """Each piece's per-token NLL from position ``first`` on."""
    nll = []
    for i, piece in enumerate(pieces):
        nll.append(-target_logprobs(engine, list(piece), first))
        if progress:
            progress("perplexity", i + 1, len(pieces))
    return nll


def result(nll: Sequence[np.ndarray], chunk: int, n_tokens: int,
           seconds: float) -> PerplexityResult:
    """The result from every piece's NLL, in piece order."""
    all_nll = np.concatenate(nll)
    ppl, se, mean = nll_stats(all_nll)
    return PerplexityResult(ppl, se, mean, len(nll), len(all_nll), chunk, n_tokens, seconds)
