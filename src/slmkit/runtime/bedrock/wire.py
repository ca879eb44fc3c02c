"""Bedrock's Converse API shapes: a ``GenerateRequest`` as Converse parameters, and
Converse output (whole or streamed events) back into text, a finish reason and usage.
No I/O here.

Tool calls travel both ways: our assistant turns' ``tool_calls`` become ``toolUse`` blocks
and ``tool`` turns ``toolResult`` blocks (in a user turn, as Bedrock wants); a ``toolUse``
in the answer comes back as ``<tool_call>{"name": …, "arguments": …}</tool_call>`` text,
the form slmkit's server parses for every engine. ``json_schema`` is asked for as one
forced tool whose input schema is the schema; its input is the answer.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from slmkit.core.errors import UnsupportedOperationError
from slmkit.core.types import ChatMessage, GenerateRequest, SamplingParams, Usage

# Bedrock stopReason → our finish reason (core.types.FINISH_REASONS)
STOP_REASONS = {
    "end_turn": "stop", "stop_sequence": "stop", "tool_use": "stop",
    "max_tokens": "length", "model_context_window_exceeded": "length",
    "guardrail_intervened": "stop", "content_filtered": "stop",
    "malformed_model_output": "error", "malformed_tool_use": "error",
}
JSON_TOOL = "json_answer"  # the forced tool that carries a json_schema answer
OPEN, CLOSE = "<tool_call>", "</tool_call>"
_ID_BAD = re.compile(r"[^a-zA-Z0-9_-]")
_DEFAULT_TOP_P = SamplingParams().top_p


def finish_reason(stop_reason: str | None) -> str:
    """Our finish reason for Bedrock's ``stopReason`` (unknown ones: ``stop``)."""
    return STOP_REASONS.get(stop_reason or "end_turn", "stop")


def converse_params(request: GenerateRequest) -> dict:
    """The Converse/ConverseStream parameters (all but ``modelId``) for ``request``."""
    if request.grammar is not None:
        raise UnsupportedOperationError("Bedrock takes no GBNF grammar",
                                        hint="use json_schema, or a local llama.cpp model")
    if request.logprobs is not None:
        raise UnsupportedOperationError("Bedrock's Converse API returns no log-probabilities",
                                        hint="ask without logprobs, or use a local model")
    if request.prompt_tokens is not None:
        raise UnsupportedOperationError("Bedrock takes text, not token ids",
                                        hint="send prompt or messages")
    messages = request.messages if request.messages is not None else \
        [ChatMessage("user", request.prompt or "")]
    system, turns = to_converse_messages(messages)
    params: dict = {"messages": turns, "inferenceConfig": inference_config(request)}
    if system:
        params["system"] = [{"text": s} for s in system]
    tools = tool_config(request)
    if tools:
        params["toolConfig"] = tools
    return params


def inference_config(request: GenerateRequest) -> dict:
    """maxTokens, temperature, topP (only when the caller changed it: recent Anthropic
    models refuse temperature and topP together) and stopSequences."""
    s = request.sampling
    config: dict = {"temperature": max(float(s.temperature), 0.0)}
    if request.max_tokens is not None:
        config["maxTokens"] = max(int(request.max_tokens), 1)
    if s.top_p != _DEFAULT_TOP_P:
        config["topP"] = float(s.top_p)
    if request.stop:
        config["stopSequences"] = list(request.stop)
    return config


def to_converse_messages(messages: Sequence[ChatMessage]) -> tuple[list[str], list[dict]]:
    """(system texts, Converse messages): tool results go into user turns, and turns of
    the same role are merged (Converse wants user and assistant to alternate)."""
    system: list[str] = []
    turns: list[dict] = []
    for m in messages:
        if m.role == "system":
            if m.content:
                system.append(m.content)
            continue
        role, blocks = _blocks(m)
        if not blocks:
            continue
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    return system, turns


def _blocks(m: ChatMessage) -> tuple[str, list[dict]]:
    if m.role == "tool":
        result = {"toolUseId": tool_use_id(m.tool_call_id or m.name or "call"),
                  "content": [{"text": m.content or "(empty)"}], "status": "success"}
        return "user", [{"toolResult": result}]
    blocks: list[dict] = [{"text": m.content}] if m.content else []
    for i, call in enumerate(m.tool_calls):
        blocks.append({"toolUse": {"toolUseId": tool_use_id(call.id or f"{call.name}-{i}"),
                                   "name": call.name, "input": call.arguments or {}}})
    return m.role, blocks


def tool_use_id(call_id: str) -> str:
    """A call id as Bedrock accepts it (``[a-zA-Z0-9_-]{1,64}``)."""
    return (_ID_BAD.sub("_", call_id) or "call")[:64]


def tool_config(request: GenerateRequest) -> dict | None:
    """``toolConfig`` for the request's tools (OpenAI shape) or its json_schema."""
    if request.json_schema is not None:
        schema = dict(request.json_schema) or {"type": "object"}
        if schema.get("type", "object") != "object":
            raise UnsupportedOperationError("Bedrock can constrain only JSON objects",
                                            hint="wrap the value in an object schema")
        spec = {"name": JSON_TOOL, "description": "Write the answer as this JSON object.",
                "inputSchema": {"json": schema}}
        return {"tools": [{"toolSpec": spec}], "toolChoice": {"tool": {"name": JSON_TOOL}}}
    if not request.tools:
        return None
    tools = []
    for t in request.tools:
        fn = t.get("function", t)
        spec = {"name": fn["name"], "inputSchema": {"json": fn.get("parameters") or
                                                    {"type": "object", "properties": {}}}}
        if fn.get("description"):
            spec["description"] = fn["description"]
        tools.append({"toolSpec": spec})
    config: dict = {"tools": tools}
    c = request.tool_calls
    if c is not None and not c.lazy:  # calls only: one named tool, or any of them
        config["toolChoice"] = ({"tool": {"name": c.names[0]}} if len(c.names) == 1
                                else {"any": {}})
    return config


def tool_text(name: str, arguments: dict) -> str:
    """A tool call as answer text (a json_schema answer is the bare JSON)."""
    if name == JSON_TOOL:
        return json.dumps(arguments, ensure_ascii=False)
    call = json.dumps({"name": name, "arguments": arguments}, ensure_ascii=False)
    return f"{OPEN}\n{call}\n{CLOSE}"


def usage_of(usage: dict | None) -> Usage:
    """Our :class:`Usage` from Converse's ``usage`` (timings are added by the stream)."""
    u = usage or {}
    return Usage(prompt_tokens=int(u.get("inputTokens", 0)),
                 completion_tokens=int(u.get("outputTokens", 0)),
                 cached_tokens=int(u.get("cacheReadInputTokens", 0)))


def output_text(output: dict) -> str:
    """The answer text of a whole Converse ``output`` (text and tool-call blocks)."""
    parts = []
    for block in (output.get("message") or {}).get("content") or ():
        if "text" in block:
            parts.append(block["text"])
        elif "toolUse" in block:
            use = block["toolUse"]
            parts.append(tool_text(use.get("name", ""), use.get("input") or {}))
    return "\n".join(p for p in parts if p) if len(parts) > 1 else "".join(parts)


@dataclass
class Blocks:
    """Content blocks of a streamed answer: tool-use inputs arrive as JSON string pieces
    and are emitted whole when their block stops."""

    tools: dict[int, dict] = field(default_factory=dict)
    stop_reason: str | None = None
    usage: dict | None = None
    wrote: bool = False  # text was emitted (a tool call after text starts a new line)

    def event(self, event: dict) -> str:
        """Text to emit for one ConverseStream event (and state kept)."""
        if "contentBlockStart" in event:
            start = event["contentBlockStart"]
            use = (start.get("start") or {}).get("toolUse")
            if use:
                self.tools[start.get("contentBlockIndex", 0)] = {"name": use.get("name", ""),
                                                                 "input": ""}
        elif "contentBlockDelta" in event:
            d = event["contentBlockDelta"]
            delta = d.get("delta") or {}
            if "text" in delta:
                self.wrote = self.wrote or bool(delta["text"])
                return delta["text"]
            if "toolUse" in delta:
                tool = self.tools.setdefault(d.get("contentBlockIndex", 0),
                                             {"name": "", "input": ""})
                tool["input"] += delta["toolUse"].get("input", "")
        elif "contentBlockStop" in event:
            tool = self.tools.pop(event["contentBlockStop"].get("contentBlockIndex", 0), None)
            if tool is not None:
                try:
                    arguments = json.loads(tool["input"] or "{}")
                except ValueError:  # a cut or broken call: say so, show nothing
                    self.stop_reason = "malformed_tool_use"
                    return ""
                text = tool_text(tool["name"], arguments)
                text, self.wrote = ("\n" + text if self.wrote else text), True
                return text
        elif "messageStop" in event:
            self.stop_reason = self.stop_reason or event["messageStop"].get("stopReason")
        elif "metadata" in event:
            self.usage = event["metadata"].get("usage")
        return ""
