"""OpenAI Responses API shapes (``POST /v1/responses``): the request, its input items
mapped to chat turns, and the response object, output items and streaming events.

Input: a string, or a list of items: messages (``role`` + text or ``input_text`` /
``output_text`` parts), ``function_call`` items (earlier calls) and
``function_call_output`` items (their results). Output: a ``message`` item with one
``output_text`` part, and/or ``function_call`` items. Nothing is stored: there is no
``previous_response_id`` (send the whole conversation each time, as with chat).
"""

from __future__ import annotations

import json
import time
from typing import Any, Literal

from pydantic import Field

from slmkit.core.types import ChatMessage
from slmkit.serve import limits as lim
from slmkit.serve import tools as toolkit
from slmkit.serve.protocol_openai import _Lenient, new_id


class FunctionTool(_Lenient):
    type: Literal["function"] = "function"
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class NamedChoice(_Lenient):
    type: Literal["function"] = "function"
    name: str


class TextFormat(_Lenient):
    type: Literal["text", "json_object", "json_schema"] = "text"
    name: str | None = None
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    strict: bool | None = None


class TextOptions(_Lenient):
    format: TextFormat | None = None


class ResponsesRequest(_Lenient):
    model: str = Field(min_length=1, max_length=512)
    input: str | list[dict[str, Any]] = Field(min_length=1)
    instructions: str | None = None
    tools: list[FunctionTool] | None = None
    tool_choice: Literal["none", "auto", "required"] | NamedChoice | None = None
    parallel_tool_calls: bool | None = None
    text: TextOptions | None = None
    max_output_tokens: lim.Tokens | None = None
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    stream: bool = False
    previous_response_id: str | None = None
    metadata: dict[str, Any] | None = None

    def schema(self) -> dict | None:
        """``text.format`` as a JSON schema (``{}``: any object; ``None``: plain text)."""
        fmt = self.text.format if self.text else None
        if fmt is None or fmt.type == "text":
            return None
        if fmt.type == "json_object":
            return {}
        if fmt.schema_ is None:
            raise ValueError("text.format json_schema needs a 'schema' object")
        return fmt.schema_

    def tool_specs(self) -> list[toolkit.ToolSpec]:
        return [toolkit.ToolSpec(t.name, t.description or "",
                                 t.parameters or {"type": "object", "properties": {}})
                for t in self.tools or ()]

    def choice(self) -> str | None:
        c = self.tool_choice
        return c.name if isinstance(c, NamedChoice) else c


# ---- input items → chat turns -----------------------------------------------------------------
ROLES = {"developer": "system", "system": "system", "user": "user", "assistant": "assistant"}


def _text(content: Any) -> str:
    if content is None or isinstance(content, str):
        return content or ""
    if not isinstance(content, list):
        raise ValueError("message content must be a string or a list of parts")
    parts = []
    for part in content:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind not in ("input_text", "output_text", "text"):
            raise ValueError(f"content parts of type {kind!r} are not supported "
                             "(this server is text-only)")
        parts.append(part.get("text") or "")
    return "".join(parts)


def messages(req: ResponsesRequest) -> list[ChatMessage]:
    """The request's instructions and input as chat turns (consecutive function calls
    become one assistant turn, as chat templates expect)."""
    if req.previous_response_id:
        raise ValueError("previous_response_id is not supported: this server stores no "
                         "responses; send the whole conversation in input")
    out = [ChatMessage("system", req.instructions)] if req.instructions else []
    items = [{"role": "user", "content": req.input}] if isinstance(req.input, str) else req.input
    names: dict[str, str] = {}
    for item in items:
        kind = item.get("type", "message")
        if kind == "message":
            role = ROLES.get(item.get("role", ""))
            if role is None:
                raise ValueError(f"unknown message role {item.get('role')!r}")
            out.append(ChatMessage(role, _text(item.get("content"))))
        elif kind == "function_call":
            call = toolkit.tool_call(item.get("name", ""), item.get("arguments") or "{}",
                                     item.get("call_id", ""))
            names[call.id] = call.name
            if out and out[-1].role == "assistant":  # calls after text: one turn
                last = out.pop()
                out.append(ChatMessage("assistant", last.content,
                                       tool_calls=(*last.tool_calls, call)))
            else:
                out.append(ChatMessage("assistant", "", tool_calls=(call,)))
        elif kind == "function_call_output":
            cid = item.get("call_id")
            output = item.get("output")
            text = output if isinstance(output, str) else json.dumps(output)
            out.append(ChatMessage("tool", text, name=names.get(cid), tool_call_id=cid))
        elif kind != "reasoning":
            raise ValueError(f"input items of type {kind!r} are not supported")
    if not out:
        raise ValueError("input is empty")
    return out


# ---- output ------------------------------------------------------------------------------
def message_item(text: str, *, item_id: str, done: bool = True) -> dict[str, Any]:
    content = [output_text(text)] if done else []
    return {"type": "message", "id": item_id, "status": "completed" if done else "in_progress",
            "role": "assistant", "content": content}


def output_text(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def call_item(call: dict[str, Any]) -> dict[str, Any]:
    return {"type": "function_call", "id": new_id("fc"), "call_id": new_id("call"),
            "name": call["name"], "status": "completed",
            "arguments": json.dumps(call["arguments"], ensure_ascii=False)}


def usage(u) -> dict[str, Any]:
    return {"input_tokens": u.prompt_tokens, "output_tokens": u.completion_tokens,
            "total_tokens": u.total_tokens,
            "input_tokens_details": {"cached_tokens": u.cached_tokens},
            "output_tokens_details": {"reasoning_tokens": 0}}


def response(rid: str, req: ResponsesRequest, model: str, created: int, *,
             output: list[dict] | None = None, status: str = "completed", u=None,
             incomplete: str | None = None) -> dict[str, Any]:
    """The ``response`` object (in progress while streaming, then completed)."""
    fmt = req.text.format.model_dump(by_alias=True, exclude_none=True) \
        if req.text and req.text.format else {"type": "text"}
    return {"id": rid, "object": "response", "created_at": created, "status": status,
            "error": None, "model": model, "output": output or [],
            "incomplete_details": {"reason": incomplete} if incomplete else None,
            "instructions": req.instructions, "max_output_tokens": req.max_output_tokens,
            "parallel_tool_calls": req.parallel_tool_calls is not False,
            "previous_response_id": None, "reasoning": {"effort": None, "summary": None},
            "store": False, "temperature": req.temperature, "top_p": req.top_p,
            "text": {"format": fmt}, "tool_choice": _choice_out(req),
            "tools": [t.model_dump(exclude_none=True) for t in req.tools or ()],
            "truncation": "disabled", "metadata": req.metadata or {}, "user": None,
            "usage": usage(u) if u is not None else None}


def _choice_out(req: ResponsesRequest):
    c = req.tool_choice
    if isinstance(c, NamedChoice):
        return {"type": "function", "name": c.name}
    return c or "auto"


def now() -> int:
    return int(time.time())
