"""A chat that keeps its history over any ``core.Engine``: each turn streams the answer
and keeps it (also when interrupted). `slm chat` drives it from a terminal."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from slmkit.core.types import ChatMessage, GenerateRequest, SamplingParams


class ChatSession:
    """History + turn logic. ``request_args`` holds ``max_tokens``, ``stop``, ``seed`` and
    the sampling fields (None: the model's ``defaults``, then SamplingParams'), e.g. the
    parsed command line; ``system`` is the system prompt (None: the template's)."""

    def __init__(self, engine, request_args, defaults: Mapping[str, Any],
                 system: str | None) -> None:
        self.engine, self.request_args, self.defaults = engine, request_args, defaults
        self.system = system
        self.history: list[ChatMessage] = []

    def reset(self, system: str | None = ...) -> None:
        """Forget the history; also replace the system prompt when ``system`` is given."""
        if system is not ...:
            self.system = system
        self.history.clear()

    def messages(self, user_text: str) -> list[ChatMessage]:
        head = [ChatMessage("system", self.system)] if self.system is not None else []
        return head + self.history + [ChatMessage("user", user_text)]

    def turn(self, user_text: str, write: Callable[[str], Any]) -> str:
        """Stream one answer through ``write``; keep it in the history (even if interrupted)."""
        a = self.request_args
        request = GenerateRequest(messages=self.messages(user_text), max_tokens=a.max_tokens,
                                  sampling=SamplingParams.layered(vars(a), self.defaults,
                                                                  a.seed),
                                  stop=tuple(a.stop), truncate=True)
        parts: list[str] = []
        stream = self.engine.generate(request)
        try:
            for chunk in stream:
                if chunk.text:
                    parts.append(chunk.text)
                    write(chunk.text)
        finally:
            stream.close()  # frees the request at once when ctrl-C interrupts it
            answer = "".join(parts)
            self.history += [ChatMessage("user", user_text), ChatMessage("assistant", answer)]
        return answer
