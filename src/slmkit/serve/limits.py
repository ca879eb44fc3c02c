"""Bounds on every number a request may carry, in one place (both APIs use them).

A request must not be able to make the server allocate without bound: llama.cpp sizes a
ring buffer by ``repeat_last_n`` (2^31 → 8 GiB) and C integers overflow beyond 32 bits.
Fields over a bound are refused with a 400 naming the field and the limit; values that
only matter up to the model's context (``repeat_last_n``, ``num_ctx``) are clamped to it
by the service. JSON schemas are bounded where they are compiled (the llama.cpp backend).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

MAX_TOKENS = 1 << 20  # max_tokens / num_predict: generation stops at the context anyway
MAX_CONTEXT = 1 << 20  # num_ctx, repeat_last_n (then clamped to the model's context)
MAX_TOP_K = 1 << 20  # beyond the vocabulary it changes nothing
MAX_PENALTY = 100.0
MAX_STOPS = 16  # as OpenAI
MAX_STOP_CHARS = 1000
MAX_TOKEN_ID = (1 << 31) - 1
SEED_MIN, SEED_MAX = -(1 << 63), (1 << 64) - 1  # reduced to 32 bits by the service

Tokens = Annotated[int, Field(ge=0, le=MAX_TOKENS)]
TopK = Annotated[int, Field(ge=0, le=MAX_TOP_K)]
Seed = Annotated[int, Field(ge=SEED_MIN, le=SEED_MAX)]
Penalty = Annotated[float, Field(gt=0.0, le=MAX_PENALTY)]
TokenId = Annotated[int, Field(ge=0, le=MAX_TOKEN_ID)]


def check_stops(value) -> list[str]:
    """A stop string or list → the list; at most ``MAX_STOPS`` non-empty strings of at
    most ``MAX_STOP_CHARS`` characters each (the matcher checks every one on every token)."""
    stops = [value] if isinstance(value, str) else list(value or [])
    if len(stops) > MAX_STOPS:
        raise ValueError(f"at most {MAX_STOPS} stop strings, got {len(stops)}")
    if any(not s for s in stops):
        raise ValueError("stop strings must be non-empty")
    if any(len(s) > MAX_STOP_CHARS for s in stops):
        raise ValueError(f"each stop string may have at most {MAX_STOP_CHARS} characters")
    return stops


def clamp_context(value: int | None, n_ctx: int) -> int | None:
    """``repeat_last_n``-style values: ``-1`` (Ollama: the whole context) or anything over
    the model's context becomes the context size."""
    if value is None or n_ctx <= 0:
        return value
    return n_ctx if value < 0 or value > n_ctx else value
