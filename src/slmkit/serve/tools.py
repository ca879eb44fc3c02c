"""Function calling on models without native tool support: a JSON-schema-constrained answer.

The tools are described in the system prompt, and the answer is constrained (through
``GenerateRequest.json_schema``, enforced by the backend's grammar) to one of:

- a call ``{"name": "<tool>", "arguments": {...}}`` whose arguments follow that tool's
  ``parameters`` schema (one alternative per tool), or
- with ``tool_choice="auto"`` only, a plain answer ``{"content": "..."}``.

So the output always parses, and the arguments always validate (within what the grammar
compiler expresses: numeric ranges such as ``minimum`` are not enforced).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

ANSWER = {"type": "object", "properties": {"content": {"type": "string"}},
          "required": ["content"], "additionalProperties": False}


@dataclass(frozen=True)
class ToolSpec:
    name: str
    description: str
    parameters: dict[str, Any]


@dataclass(frozen=True)
class ToolPlan:
    """How to run a request with tools: the constraining schema and the prompt text."""

    schema: dict[str, Any]
    instructions: str
    allow_text: bool


def call_schema(tool: ToolSpec) -> dict[str, Any]:
    params = dict(tool.parameters or {"type": "object"})
    params.setdefault("type", "object")
    return {"type": "object",
            "properties": {"name": {"const": tool.name}, "arguments": params},
            "required": ["name", "arguments"], "additionalProperties": False}


def plan(tools: list[ToolSpec], choice: str | None) -> ToolPlan | None:
    """``choice``: ``None``/``"auto"``, ``"required"``, ``"none"`` or a tool's name.
    Returns ``None`` when the request runs as plain chat."""
    if not tools or choice == "none":
        return None
    if choice not in (None, "auto", "required"):
        chosen = [t for t in tools if t.name == choice]
        if not chosen:
            raise ValueError(f"tool_choice names {choice!r}, which is not among the tools "
                             f"({', '.join(t.name for t in tools)})")
        tools = chosen
    alternatives = [call_schema(t) for t in tools]
    allow_text = choice in (None, "auto")
    if allow_text:
        alternatives.append(ANSWER)
    schema = alternatives[0] if len(alternatives) == 1 else {"anyOf": alternatives}
    return ToolPlan(schema, instructions(tools, allow_text), allow_text)


def instructions(tools: list[ToolSpec], allow_text: bool) -> str:
    lines = ["You can call these functions:"]
    for t in tools:
        desc = f": {t.description}" if t.description else ""
        lines.append(f"- {t.name}{desc}. Parameters (JSON schema): "
                     f"{json.dumps(t.parameters, separators=(',', ':'))}")
    lines.append('To call a function, reply with JSON only: {"name": "<function name>", '
                 '"arguments": {...}}.')
    if allow_text:
        lines.append('If no function fits, reply with JSON only: {"content": "<your answer>"}.')
    return "\n".join(lines)


def parse(text: str, plan: ToolPlan) -> tuple[str | None, list[dict[str, Any]]]:
    """The model's constrained output → ``(content, tool_calls)``. A call is
    ``{"name": str, "arguments": dict}``. Output that does not parse (cut by max_tokens)
    comes back as plain content."""
    try:
        obj = json.loads(text)
    except ValueError:
        return text, []
    if isinstance(obj, dict) and isinstance(obj.get("name"), str) and "arguments" in obj:
        args = obj["arguments"] if isinstance(obj["arguments"], dict) else {}
        return None, [{"name": obj["name"], "arguments": args}]
    if plan.allow_text and isinstance(obj, dict) and isinstance(obj.get("content"), str):
        return obj["content"], []
    return text, []


def render_call(name: str, arguments: Any) -> str:
    """An earlier assistant tool call, as the text the model would have produced."""
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except ValueError:
            pass
    return json.dumps({"name": name, "arguments": arguments}, ensure_ascii=False)
