"""How the apps talk to a model: one chat turn through the Engine contract, greedy by
default, with the token counts the apps report (and budget against the context)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from slmkit.core.engine import Engine
from slmkit.core.types import ChatMessage, GenerateRequest, SamplingParams, collect

# Greedy with a mild repeat penalty: small models loop on long inputs without it.
SAMPLING = SamplingParams(temperature=0.0, repeat_penalty=1.1, repeat_last_n=128, seed=0)


@dataclass
class Calls:
    """What the model calls of one run cost: calls, prompt and generated tokens."""

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    finish: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"calls": self.calls, "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens,
                "cached_tokens": self.cached_tokens, "finish": dict(self.finish)}


def messages(system: str, user: str) -> list[ChatMessage]:
    return [ChatMessage("system", system), ChatMessage("user", user)]


def count_tokens(engine: Engine, text: str) -> int:
    """Tokens of ``text`` for this model (no special tokens)."""
    return len(engine.tokenize(text, add_special=False))


def prompt_size(engine: Engine, system: str, user: str) -> int:
    """Tokens the chat turn takes before the answer."""
    return len(engine.prompt_tokens(GenerateRequest(messages=messages(system, user))))


def ask(engine: Engine, system: str, user: str, *, max_tokens: int, calls: Calls | None = None,
        json_schema: dict | None = None, timeout: float | None = None) -> str:
    """The model's answer to one system + user turn (stripped)."""
    request = GenerateRequest(messages=messages(system, user), max_tokens=max_tokens,
                              sampling=SAMPLING, json_schema=json_schema, timeout=timeout)
    done = collect(engine.generate(request))
    if calls is not None:
        calls.calls += 1
        calls.prompt_tokens += done.usage.prompt_tokens
        calls.completion_tokens += done.usage.completion_tokens
        calls.cached_tokens += done.usage.cached_tokens
        reason = done.finish_reason or "unknown"
        calls.finish[reason] = calls.finish.get(reason, 0) + 1
    return done.text.strip()
