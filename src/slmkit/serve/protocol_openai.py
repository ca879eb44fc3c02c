"""OpenAI API shapes: pydantic request schemas and builders for response bodies.

Requests are validated by pydantic (unknown fields ignored, as OpenAI-compatible servers
do); responses are plain dicts so that streaming stays cheap.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from slmkit.serve import limits as lim


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", allow_inf_nan=False)


# ---- requests ------------------------------------------------------------------------------
class FunctionCall(_Lenient):
    name: str
    arguments: str | dict[str, Any] = "{}"


class ToolCall(_Lenient):
    id: str | None = None
    type: Literal["function"] = "function"
    function: FunctionCall


class ContentPart(_Lenient):
    type: str
    text: str | None = None


class Message(_Lenient):
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None
    name: str | None = None
    tool_calls: list[ToolCall] | None = None
    tool_call_id: str | None = None

    def text(self) -> str:
        """The message's text (content parts joined); images and audio are refused."""
        if self.content is None or isinstance(self.content, str):
            return self.content or ""
        parts = []
        for part in self.content:
            if part.type != "text":
                raise ValueError(f"content parts of type {part.type!r} are not supported "
                                 "(this server is text-only)")
            parts.append(part.text or "")
        return "".join(parts)


class FunctionDef(_Lenient):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    description: str | None = None
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object",
                                                                 "properties": {}})


class Tool(_Lenient):
    type: Literal["function"] = "function"
    function: FunctionDef


class NamedToolChoice(_Lenient):
    type: Literal["function"] = "function"
    function: dict[str, str]


class JsonSchemaFormat(_Lenient):
    name: str = "response"
    schema_: dict[str, Any] = Field(default_factory=dict, alias="schema")
    strict: bool | None = None


class ResponseFormat(_Lenient):
    type: Literal["text", "json_object", "json_schema"] = "text"
    json_schema: JsonSchemaFormat | None = None


class StreamOptions(_Lenient):
    include_usage: bool = False


class _Sampling(_Lenient):
    model: str = Field(min_length=1, max_length=512)
    max_tokens: lim.Tokens | None = None
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    top_k: lim.TopK | None = None
    min_p: float | None = Field(default=None, ge=0.0, lt=1.0)
    repeat_penalty: lim.Penalty | None = None
    frequency_penalty: float | None = Field(default=None, ge=-2.0, le=2.0)
    presence_penalty: float | None = Field(default=None, ge=-2.0, le=2.0)
    seed: lim.Seed | None = None
    stop: str | list[str] | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    n: int = Field(default=1, ge=1, le=1, description="only n=1 is supported")

    @field_validator("stop")
    @classmethod
    def _stops(cls, v):
        return lim.check_stops(v)

    @property
    def include_usage(self) -> bool:
        return bool(self.stream_options and self.stream_options.include_usage)


class ChatCompletionRequest(_Sampling):
    messages: list[Message] = Field(min_length=1)
    max_completion_tokens: lim.Tokens | None = None
    logprobs: bool = False
    top_logprobs: int | None = Field(default=None, ge=0, le=20)
    response_format: ResponseFormat | None = None
    tools: list[Tool] | None = None
    tool_choice: Literal["none", "auto", "required"] | NamedToolChoice | None = None
    parallel_tool_calls: bool | None = None


class CompletionRequest(_Sampling):
    prompt: str | list[str] | list[lim.TokenId]
    max_tokens: lim.Tokens | None = 16
    logprobs: int | None = Field(default=None, ge=0, le=20)
    echo: bool = False
    suffix: str | None = None
    response_format: ResponseFormat | None = None

    @field_validator("prompt")
    @classmethod
    def _one_prompt(cls, v):
        if isinstance(v, list) and v and isinstance(v[0], str):
            if len(v) != 1:
                raise ValueError("send one prompt per request (batched prompts are not "
                                 "supported; concurrent requests are batched by the server)")
            return v[0]
        return v


class EmbeddingRequest(_Lenient):
    model: str = Field(min_length=1, max_length=512)
    input: str | list[str] = Field(min_length=1)
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = Field(default=None, ge=1)

    def texts(self) -> list[str]:
        return [self.input] if isinstance(self.input, str) else list(self.input)


# ---- responses -----------------------------------------------------------------------------
def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:24]}"


def usage_dict(usage) -> dict[str, Any]:
    d = {"prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens,
         "total_tokens": usage.total_tokens}
    if usage.cached_tokens:
        d["prompt_tokens_details"] = {"cached_tokens": usage.cached_tokens}
    if usage.decision is not None:  # a routed engine's: where and why
        d["slm_route"] = usage.decision.to_dict()
    return d


def finish_reason(reason: str | None) -> str | None:
    """Engine finish reasons → OpenAI's (a timeout cut the answer, like a length limit)."""
    return {"timeout": "length", "cancelled": "stop", "error": "stop"}.get(reason, reason)


def _lp_entry(lp) -> dict[str, Any]:
    return {"token": lp.text, "logprob": lp.logprob, "bytes": list(lp.text.encode())}


def chat_logprobs(lps) -> dict[str, Any] | None:
    if lps is None:
        return None
    return {"content": [dict(_lp_entry(lp), top_logprobs=[_lp_entry(t) for t in lp.top])
                        for lp in lps]}


def completion_logprobs(lps, offset: int = 0) -> dict[str, Any] | None:
    """The legacy completions shape: parallel lists plus one dict of alternatives per token."""
    if lps is None:
        return None
    offsets, pos = [], offset
    for lp in lps:
        offsets.append(pos)
        pos += len(lp.text)
    return {"tokens": [lp.text for lp in lps], "token_logprobs": [lp.logprob for lp in lps],
            "top_logprobs": [{t.text: t.logprob for t in lp.top} for lp in lps],
            "text_offset": offsets}


def tool_calls_out(calls: list[dict[str, Any]], *, streaming: bool = False) -> list[dict]:
    out = []
    for i, call in enumerate(calls):
        item = {"id": call.get("id") or new_id("call"), "type": "function",
                "function": {"name": call["name"],
                             "arguments": json.dumps(call["arguments"], ensure_ascii=False)}}
        if streaming:
            item["index"] = i
        out.append(item)
    return out


def chat_completion(rid: str, model: str, text: str | None, finish: str | None, usage,
                    lps=None, tool_calls: list[dict] | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": text}
    if tool_calls:
        message["tool_calls"] = tool_calls_out(tool_calls)
        finish = "tool_calls"
    return {"id": rid, "object": "chat.completion", "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "message": message, "logprobs": chat_logprobs(lps),
                         "finish_reason": finish_reason(finish)}],
            "usage": usage_dict(usage), "system_fingerprint": "slmkit"}


def chat_chunk(rid: str, model: str, created: int, delta: dict[str, Any],
               finish: str | None = None, lps=None) -> dict[str, Any]:
    choice = {"index": 0, "delta": delta, "logprobs": chat_logprobs(lps),
              "finish_reason": finish_reason(finish)}
    return {"id": rid, "object": "chat.completion.chunk", "created": created, "model": model,
            "system_fingerprint": "slmkit", "choices": [choice]}


def usage_chunk(rid: str, model: str, created: int, usage, obj: str) -> dict[str, Any]:
    return {"id": rid, "object": obj, "created": created, "model": model, "choices": [],
            "usage": usage_dict(usage)}


def completion(rid: str, model: str, text: str, finish: str | None, usage, lps=None,
               *, created: int | None = None, text_offset: int = 0,
               with_usage: bool = True) -> dict[str, Any]:
    body = {"id": rid, "object": "text_completion", "created": created or int(time.time()),
            "model": model,
            "choices": [{"index": 0, "text": text, "finish_reason": finish_reason(finish),
                         "logprobs": completion_logprobs(lps, text_offset)}]}
    if with_usage:
        body["usage"] = usage_dict(usage)
    return body


def embeddings(model: str, vectors: list[list[float]], n_tokens: int,
               encoding: str = "float") -> dict[str, Any]:
    def encode(v):
        if encoding == "float":
            return v
        import base64
        import struct

        return base64.b64encode(struct.pack(f"<{len(v)}f", *v)).decode()

    return {"object": "list", "model": model,
            "data": [{"object": "embedding", "index": i, "embedding": encode(v)}
                     for i, v in enumerate(vectors)],
            "usage": {"prompt_tokens": n_tokens, "total_tokens": n_tokens}}


def model_card(name: str, created: int) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": created, "owned_by": "slmkit"}


def error_body(status: int, code: str, message: str, hint: str | None = None) -> dict:
    kind = {400: "invalid_request_error", 401: "authentication_error",
            404: "not_found_error", 413: "invalid_request_error", 429: "rate_limit_error"}
    err = {"message": message, "type": kind.get(status, "server_error"), "param": None,
           "code": code}
    if hint:
        err["hint"] = hint
    return {"error": err}
