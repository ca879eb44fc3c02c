"""Function calling: how a request with tools is put to the model and its answer read back.

The tools go to the model's own chat template when it describes tools itself (Qwen2.5,
Qwen3, Hermes: templates that write ``<tool_call>``); other models get the same
description as system text. Earlier calls and their results are chat turns the template
renders its own way (Qwen puts results in ``<tool_response>`` inside a user turn).

The answer is constrained by a :class:`~slmkit.core.types.ToolCallConstraint`:

- ``tool_choice="auto"``: the model writes freely, and only once it starts a call itself
  (``<tool_call>``, or a bare ``{"name": "<a tool>"`` as small models write it) does the
  grammar take over, so the call always parses and its arguments follow the tool's schema.
  A plain text answer stays plain text.
- ``"required"`` or a tool's name: the answer is calls only, from the first token.

:func:`parse` splits an answer into text and calls; :func:`repeats` spots a call that was
already made and answered (small models loop on it), so that the service asks again for
a text answer (:data:`TEXT_ONLY`).
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass
from typing import Any

from slmkit.core.types import ChatMessage, ToolCall, ToolCallConstraint

OPEN, CLOSE = "<tool_call>", "</tool_call>"

# A text answer: it may not start like a call (JSON, a tag, a code fence); used to re-ask
# for the answer when the model repeated a call whose result it already has.
TEXT_ONLY = 'root ::= [^{<\\[`\\x00 \\t\\n] [^\\x00]*'


@dataclass(frozen=True)
class ToolSpec:
    name: str
    description: str
    parameters: dict[str, Any]

    def as_openai(self) -> dict[str, Any]:
        """The definition in OpenAI's shape, as chat templates take it."""
        fn: dict[str, Any] = {"name": self.name}
        if self.description:
            fn["description"] = self.description
        fn["parameters"] = self.parameters or {"type": "object", "properties": {}}
        return {"type": "function", "function": fn}


@dataclass(frozen=True)
class ToolPlan:
    """How to run a request with tools."""

    tools: tuple[ToolSpec, ...]
    constraint: ToolCallConstraint
    native: bool  # the chat template describes the tools
    allow_text: bool

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.tools)

    def definitions(self) -> list[dict[str, Any]] | None:
        """What the chat template gets (``None`` when the tools are system text)."""
        return [t.as_openai() for t in self.tools] if self.native else None

    def instructions(self) -> str | None:
        """System text describing the tools, for templates that do not."""
        return None if self.native else instructions(self.tools, self.allow_text)

    def for_template(self, template: str | None) -> ToolPlan:
        """This plan for a model with chat template ``template``."""
        return dataclasses.replace(self, native=native(template))


def call_schema(tool: ToolSpec) -> dict[str, Any]:
    params = dict(tool.parameters or {"type": "object"})
    params.setdefault("type", "object")
    return {"type": "object",
            "properties": {"name": {"const": tool.name}, "arguments": params},
            "required": ["name", "arguments"], "additionalProperties": False}


def native(template: str | None) -> bool:
    """Whether a chat template describes tools and writes calls as ``<tool_call>``."""
    return bool(template) and OPEN in template and "tools" in template


def plan(tools: list[ToolSpec], choice: str | None, *,
         parallel: bool | None = None) -> ToolPlan | None:
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
    schema = alternatives[0] if len(alternatives) == 1 else {"anyOf": alternatives}
    allow_text = choice in (None, "auto")
    constraint = ToolCallConstraint(schema, tuple(t.name for t in tools), OPEN, CLOSE,
                                    lazy=allow_text, parallel=parallel is not False)
    return ToolPlan(tuple(tools), constraint, False, allow_text)


def instructions(tools: tuple[ToolSpec, ...], allow_text: bool = True) -> str:
    """The tools described the way Qwen and Hermes templates do, as system text."""
    lines = ["# Tools", "", "You may call one or more functions to assist with the user "
             "query. The function signatures are within <tools></tools> XML tags:", "<tools>"]
    lines += [json.dumps(t.as_openai(), ensure_ascii=False) for t in tools]
    lines += ["</tools>", "", "For each function call, return a json object with function "
              "name and arguments within <tool_call></tool_call> XML tags:",
              '<tool_call>\n{"name": <function-name>, "arguments": <args-json-object>}\n'
              "</tool_call>"]
    if allow_text:
        lines.append("If no function fits, answer the user in plain text.")
    return "\n".join(lines)


def tool_call(name: str, arguments: Any, call_id: str = "") -> ToolCall:
    """An earlier call from a client (arguments as a JSON string or an object)."""
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments) if arguments.strip() else {}
        except ValueError:
            raise ValueError(f"the arguments of the earlier call to {name!r} are not JSON: "
                             f"{arguments[:80]!r}") from None
    if not isinstance(arguments, dict):
        raise ValueError(f"the arguments of the earlier call to {name!r} must be a JSON "
                         "object")
    return ToolCall(name, arguments, call_id)


# ---- reading the answer ------------------------------------------------------------------
def _bare_start(names: tuple[str, ...]) -> re.Pattern:
    alts = "|".join(re.escape(json.dumps(n)) for n in names)
    return re.compile(r'(?:^|\n)[ \t]*(\{\s*"name"\s*:\s*(?:' + alts + "))")


_FENCE = re.compile(r"```[A-Za-z]*[ \t]*\n?[ \t]*$")  # a code fence opened before a call


def call_start(text: str, plan: ToolPlan) -> int | None:
    """Where the first tool call begins in ``text`` (``None``: no call)."""
    starts = [text.find(OPEN)] if OPEN in text else []
    m = _bare_start(plan.names).search(text)
    if m:
        starts.append(m.start(1))
    return min(starts) if starts else None


def parse(text: str, plan: ToolPlan) -> tuple[str | None, list[dict[str, Any]]]:
    """The model's answer → ``(content, tool_calls)``; a call is ``{"name": str,
    "arguments": dict}``. Text before the first call is the content (``None`` if empty).
    A call cut short (by max_tokens) is dropped, and a call written twice counted once;
    when no whole call remains, the whole answer is content."""
    start = call_start(text, plan)
    if start is None:
        return text, []
    calls = _calls(text[start:], plan.names)
    if not calls:
        return text, []
    content = _FENCE.sub("", text[:start]).strip()
    return content or None, calls


def _calls(text: str, names: tuple[str, ...]) -> list[dict[str, Any]]:
    decoder, pos, calls, seen = json.JSONDecoder(), 0, [], set()
    while True:
        pos = _skip(text, pos, OPEN)
        if pos >= len(text):
            return calls
        try:
            obj, pos = decoder.raw_decode(text, pos)
        except ValueError:
            return calls
        if not (isinstance(obj, dict) and obj.get("name") in names):
            return calls
        args = obj.get("arguments")
        call = {"name": obj["name"], "arguments": args if isinstance(args, dict) else {}}
        if _key(call["name"], call["arguments"]) not in seen:
            seen.add(_key(call["name"], call["arguments"]))
            calls.append(call)
        pos = _skip(text, pos, CLOSE)


def _skip(text: str, pos: int, tag: str) -> int:
    while pos < len(text) and text[pos].isspace():
        pos += 1
    if text.startswith(tag, pos):
        pos += len(tag)
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return pos


def _key(name: str, arguments: Any) -> str:
    return json.dumps([name, arguments], sort_keys=True, ensure_ascii=False)


def repeats(calls: list[dict[str, Any]], messages: list[ChatMessage]) -> bool:
    """Whether every call in ``calls`` was already made, with the same arguments, earlier
    in the chat and its result is there (a tool turn answering it)."""
    answered = {m.tool_call_id for m in messages if m.role == "tool" and m.tool_call_id}
    anonymous = any(m.role == "tool" and not m.tool_call_id for m in messages)
    done = {_key(c.name, c.arguments) for m in messages if m.role == "assistant"
            for c in m.tool_calls if anonymous or c.id in answered}
    return bool(calls) and all(_key(c["name"], c["arguments"]) in done for c in calls)


def attempted(text: str) -> bool:
    """Whether an answer that parsed into no call still looks like one (an unknown tool,
    a cut call): then a text answer is asked for instead."""
    s = re.sub(r"^```[A-Za-z]*\s*", "", text.lstrip())
    return s.startswith(OPEN) or bool(re.match(r'\{\s*"name"\s*:', s))


class Splitter:
    """Streams an answer's text while holding back what may become a tool call, so that
    a client never sees half a call as content."""

    def __init__(self, plan: ToolPlan) -> None:
        self.plan, self.text, self.sent = plan, "", 0
        self._prefixes = [OPEN] + [f'{{"name": {json.dumps(n)}' for n in plan.names]

    def push(self, piece: str) -> str:
        """Add generated text; return the part that is safe to show as content now."""
        self.text += piece
        start = call_start(self.text, self.plan)
        safe = start if start is not None else self._hold_from()
        fence = _FENCE.search(self.text, 0, safe)
        if fence:
            safe = fence.start()
        if safe <= self.sent:
            return ""
        out, self.sent = self.text[self.sent:safe], safe
        return out

    def _hold_from(self) -> int:
        """The earliest position from which the text may still turn into a call."""
        line = self.text.rfind("\n") + 1
        for i in range(line, len(self.text)):
            tail = re.sub(r"\s+", "", self.text[i:])
            if tail and (tail.startswith('{"name":')  # a call, maybe to no known tool
                         or any(p.replace(" ", "").startswith(tail) for p in self._prefixes)):
                return i
        return len(self.text)
