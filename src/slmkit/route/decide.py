"""Routing decisions from measured signals: explicit tags, prompt length against the local
context, and the local answer's token log-probabilities. Pure functions, no engines."""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from slmkit.core.types import ChatMessage, GenerateRequest
from slmkit.core.types import RouteDecision as Decision  # noqa: F401 - route's name for it

LOCAL, REMOTE, FALLBACK = "local", "remote", "fallback"
TAG_RE = re.compile(r"(?:^|\s)#route:(local|remote)\b\s?", re.IGNORECASE)
ON_UPSTREAM_ERROR = ("local", "error")


@dataclass(frozen=True)
class RouteConfig:
    """When to escalate, and what to do when the upstream fails.

    The local answer is judged on its first ``judge_tokens`` tokens (0 = the whole
    answer): it escalates when the mean chosen-token log-probability is below
    ``min_mean_logprob`` or any token's is below ``min_token_logprob``. A prompt that
    leaves fewer than ``reserve_tokens`` of the local context escalates at once.
    With a difficulty model, a prompt it rates ``p(hard) >= max_difficulty`` escalates
    before the local model runs. ``on_upstream_error="local"`` answers locally when the
    upstream fails before sending anything; ``"error"`` raises the upstream's error.
    ``tags`` honours ``#route:local`` in a prompt; ``#route:remote`` (a paid escalation any
    client could force) only with ``allow_remote_tag`` as well, a server setting that is off
    by default: otherwise the tag is removed and ignored (``signals["tag"]`` says so).
    """

    min_mean_logprob: float = -1.2
    min_token_logprob: float = -9.0
    judge_tokens: int = 32
    reserve_tokens: int = 64
    on_upstream_error: str = "local"
    tags: bool = True
    allow_remote_tag: bool = False
    max_difficulty: float = 0.5

    def __post_init__(self) -> None:
        if self.on_upstream_error not in ON_UPSTREAM_ERROR:
            raise ValueError(f"on_upstream_error must be one of {ON_UPSTREAM_ERROR}")
        if self.judge_tokens < 0 or self.reserve_tokens < 0:
            raise ValueError("judge_tokens and reserve_tokens must be >= 0")


def extract_tag(request: GenerateRequest) -> tuple[str | None, GenerateRequest]:
    """``#route:local`` / ``#route:remote`` in the last user message (or the prompt):
    the tag, and the request without it."""
    if request.messages is not None:
        messages = list(request.messages)
        for i in range(len(messages) - 1, -1, -1):
            if messages[i].role == "user":
                tag, text = _strip_tag(messages[i].content)
                if tag is None:
                    return None, request
                messages[i] = ChatMessage("user", text, messages[i].name)
                return tag, dataclasses.replace(request, messages=messages)
        return None, request
    if request.prompt is not None:
        tag, text = _strip_tag(request.prompt)
        return (tag, dataclasses.replace(request, prompt=text)) if tag else (None, request)
    return None, request


def _strip_tag(text: str) -> tuple[str | None, str]:
    m = TAG_RE.search(text)
    if not m:
        return None, text
    return m.group(1).lower(), (text[:m.start()] + " " + text[m.end():]).strip()


def confidence(logprobs: Sequence[float]) -> dict[str, float]:
    """Mean and minimum chosen-token log-probability (and perplexity) of an answer."""
    if not logprobs:
        return {"tokens": 0}
    mean = sum(logprobs) / len(logprobs)
    return {"tokens": len(logprobs), "mean_logprob": round(mean, 4),
            "min_logprob": round(min(logprobs), 4), "perplexity": round(math.exp(-mean), 3)}


def judge(logprobs: Sequence[float], text: str, cfg: RouteConfig) -> tuple[bool, str, dict]:
    """(escalate?, reason, signals) for a local answer's judged tokens."""
    signals = confidence(logprobs)
    if not logprobs or not text.strip():
        return True, "empty_local_answer", signals
    if signals["mean_logprob"] < cfg.min_mean_logprob:
        return True, (f"low_confidence: mean logprob {signals['mean_logprob']:.2f} < "
                      f"{cfg.min_mean_logprob:g}"), signals
    if signals["min_logprob"] < cfg.min_token_logprob:
        return True, (f"low_confidence: a token at logprob {signals['min_logprob']:.2f} < "
                      f"{cfg.min_token_logprob:g}"), signals
    return False, (f"confident: mean logprob {signals['mean_logprob']:.2f}, "
                   f"min {signals['min_logprob']:.2f}"), signals


def too_long_for_local(n_prompt: int, n_ctx: int, cfg: RouteConfig) -> bool:
    """The prompt leaves less than ``reserve_tokens`` of the local context."""
    return bool(n_ctx) and n_prompt + cfg.reserve_tokens > n_ctx
