"""The OpenAI wire format: request bodies from a ``GenerateRequest``, and streamed SSE
events back into text, log-probabilities, a finish reason and usage. No I/O here."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from slmkit.core.types import GenerateRequest, TokenLogprob

FINISH_MAP = {"stop": "stop", "length": "length", "content_filter": "stop",
              "tool_calls": "stop", "function_call": "stop", "eos": "stop"}


def build_body(request: GenerateRequest, model: str) -> tuple[str, dict]:
    """(endpoint path, JSON body) for a streamed chat or text completion."""
    if request.grammar is not None:
        raise ValueError("a remote OpenAI-compatible engine takes json_schema, not a raw grammar")
    s = request.sampling
    body: dict = {"model": model, "stream": True, "stream_options": {"include_usage": True},
                  "temperature": max(s.temperature, 0.0), "top_p": s.top_p}
    if s.seed is not None:
        body["seed"] = s.seed
    if request.max_tokens is not None:
        body["max_tokens"] = request.max_tokens
    if request.stop:
        body["stop"] = list(request.stop)
    if request.json_schema is not None:
        body["response_format"] = {"type": "json_schema", "json_schema": {
            "name": "output", "schema": request.json_schema or {"type": "object"}}}
    if request.messages is not None:
        body["messages"] = [_wire(m) for m in request.messages]
        if request.logprobs is not None:
            body["logprobs"] = True
            body["top_logprobs"] = request.logprobs
        return "/chat/completions", body
    if request.prompt is None:
        raise ValueError("a remote engine needs prompt or messages, not prompt_tokens")
    body["prompt"] = request.prompt
    if request.logprobs is not None:
        body["logprobs"] = request.logprobs
    return "/completions", body


def _wire(message) -> dict:
    """A chat turn as the OpenAI API takes it (call arguments as a JSON string)."""
    d = message.to_dict()
    for call in d.get("tool_calls", ()):
        call["function"]["arguments"] = json.dumps(call["function"]["arguments"])
    return d


def prompt_text(request: GenerateRequest) -> str:
    """All prompt text of a request (for the context-window estimate)."""
    if request.messages is not None:
        return "\n".join(m.content for m in request.messages)
    return request.prompt or ""


def sse_events(lines: Iterable[str]) -> Iterator[dict | None]:
    """Parsed ``data:`` payloads of a server-sent event stream; None for ``[DONE]``."""
    for line in lines:
        if not line.startswith("data:"):
            continue  # comments (":"), "event:", "id:", blank separators
        data = line[5:].strip()
        if data == "[DONE]":
            yield None
            return
        if data:
            yield json.loads(data)


@dataclass
class Delta:
    """What one streamed event carries."""

    text: str = ""
    logprobs: tuple[TokenLogprob, ...] | None = None
    finish_reason: str | None = None
    usage: dict | None = None
    error: dict | None = None


@dataclass
class Tally:
    """Running state over a stream: the finish reason and usage seen so far."""

    finish_reason: str | None = None
    usage: dict = field(default_factory=dict)
    pieces: int = 0
    done: bool = False  # [DONE] or a finish reason arrived


def parse_event(event: dict) -> Delta:
    """One SSE payload of either endpoint → a :class:`Delta`."""
    if "error" in event:
        return Delta(error=event["error"] if isinstance(event["error"], dict)
                     else {"message": str(event["error"])})
    delta = Delta(usage=event.get("usage") or None)
    choices = event.get("choices") or []
    if not choices:
        return delta
    choice = choices[0]
    if "delta" in choice:  # chat
        delta.text = (choice["delta"] or {}).get("content") or ""
        lp = (choice.get("logprobs") or {}).get("content")
        delta.logprobs = _chat_logprobs(lp) if lp else None
    else:  # text completion
        delta.text = choice.get("text") or ""
        lp = choice.get("logprobs")
        delta.logprobs = _completion_logprobs(lp) if lp else None
    reason = choice.get("finish_reason")
    delta.finish_reason = FINISH_MAP.get(reason, "stop") if reason else None
    return delta


def _chat_logprobs(items: list[dict]) -> tuple[TokenLogprob, ...]:
    return tuple(TokenLogprob(-1, it.get("token", ""), float(it.get("logprob", 0.0)), tuple(
        TokenLogprob(-1, t.get("token", ""), float(t.get("logprob", 0.0)))
        for t in it.get("top_logprobs") or ())) for it in items)


def _completion_logprobs(lp: dict) -> tuple[TokenLogprob, ...]:
    tokens = lp.get("tokens") or []
    values = lp.get("token_logprobs") or []
    tops = lp.get("top_logprobs") or [None] * len(tokens)
    return tuple(TokenLogprob(-1, t, float(v if v is not None else 0.0), tuple(
        TokenLogprob(-1, k, float(x)) for k, x in (top or {}).items()))
        for t, v, top in zip(tokens, values, tops))


_CTX_RE = re.compile(r"maximum context length is (\d+).*?(?:requested|resulted in) (\d+)",
                     re.DOTALL)  # OpenAI, vLLM
_OURS_RE = re.compile(r"prompt is (\d+) tokens but the context window is (\d+) tokens")  # slm serve


def context_numbers(message: str) -> tuple[int, int] | None:
    """(prompt tokens, context) from an upstream context-length error message, if stated."""
    m = _CTX_RE.search(message)
    if m:
        return int(m.group(2)), int(m.group(1))
    m = _OURS_RE.search(message)
    return (int(m.group(1)), int(m.group(2))) if m else None
