"""A chat that keeps its history over any ``core.Engine``: each turn streams the answer
and keeps it (also when interrupted). `slm chat` drives it from a terminal."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from slmkit.core.types import ChatMessage, GenerateRequest, SamplingParams

HELP = "commands: /reset · /system TEXT · /exit (ctrl-D) · ctrl-C stops an answer"


def system_prompt(options: Any, defaults: Mapping[str, Any]) -> str | None:
    """``options.system`` (e.g. --system), else the catalog's per-model default (None: the
    chat template's)."""
    return options.system if options.system is not None else defaults.get("system")


def one_request(prompt: str, options: Any, defaults: Mapping[str, Any], *, raw: bool = False,
                logprobs: int | None = None, truncate: bool = False) -> GenerateRequest:
    """The request for one prompt: ``options`` holds ``max_tokens``, ``stop``, ``seed``,
    ``system`` and the sampling fields (None: the model's ``defaults``), e.g. the parsed
    command line; ``raw`` sends the prompt verbatim (no chat template, no system prompt).
    A Korean summary request ("다음 이메일을 세 줄로 요약해줘: …") without a ``system``
    option is sent with the summarizer's prompt (``apps.summarize.ask``: measured)."""
    common = {"max_tokens": options.max_tokens, "stop": tuple(options.stop),
              "sampling": SamplingParams.layered(vars(options), defaults, options.seed),
              "logprobs": logprobs, "truncate": truncate}
    if raw:
        return GenerateRequest(prompt=prompt, **common)
    system = system_prompt(options, defaults)
    routed = _summary_rewrite(prompt) if options.system is None else None
    if routed is not None:
        system, prompt = routed
    head = [ChatMessage("system", system)] if system is not None else []
    return GenerateRequest(messages=[*head, ChatMessage("user", prompt)], **common)


def _summary_rewrite(prompt: str) -> tuple[str, str] | None:
    if "요약" not in prompt:  # the summarizer is imported only when it may be needed
        return None
    from slmkit.apps.summarize.ask import rewrite

    return rewrite(prompt)


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

    def command(self, line: str) -> str | None:
        """Run the chat command ``line`` (/reset, /system TEXT, /exit): the note to show, or
        None when the chat should end."""
        if line in ("/exit", "/quit", "/bye"):
            return None
        if line == "/reset":
            self.reset()
            return "history cleared"
        if line.startswith("/system"):
            text = line[len("/system"):].strip()
            self.reset(system=text or None)
            return f"system prompt {'set' if text else 'cleared'}; history cleared"
        return f"unknown command; {HELP}"

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
