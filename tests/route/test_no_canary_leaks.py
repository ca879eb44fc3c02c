"""Property-style (seeded random) test: canary identifiers placed in chat messages, RAG-like
context and tool-call JSON never reach the recording upstream — not as typed, not
JSON-escaped, not as their bare digits — and every answer comes back with them restored."""

from __future__ import annotations

import json
import random
import re

import pytest

from helpers.fake_engine import FakeLocal
from helpers.upstream import Upstream
from slmkit.core.types import ChatMessage, GenerateRequest, collect
from slmkit.guard import STRUCTURED, Guard
from slmkit.guard.synthetic import FILLERS, GENERATORS
from slmkit.route import RouteConfig, RoutedEngine
from slmkit.runtime.remote import RemoteEngine

CASES = 60
TYPES = [*STRUCTURED, "PERSON"]


@pytest.fixture(scope="module")
def upstream():
    server = Upstream()
    yield server
    server.stop()


def canary(r: random.Random, entity: str) -> tuple[str, str]:
    """(text with its context words, the canary value)."""
    before, value, after = GENERATORS[entity](r)
    return f"{before}{value}{after}", value


def rag_context(r: random.Random, canaries: list[str]) -> str:
    docs = []
    for i in range(r.randint(1, 3)):
        text, value = canary(r, r.choice(TYPES))
        canaries.append(value)
        docs.append(f"[doc {i + 1}] {r.choice(FILLERS)}{text} {r.choice(FILLERS)}")
    return "Answer from these documents only:\n" + "\n".join(docs)


def needs_context(entity: str, value: str) -> bool:
    """Types the guard recognises only with their context words or full form (a name
    after a title, a password after its key, credentials inside their URL, a passport, a
    bank account next to its bank word, an unhyphenated RRN/BRN next to its label); the rest
    go in bare."""
    if entity in ("KR_RRN", "KR_BRN"):
        return "-" not in value
    return entity in ("PERSON", "SECRET", "PASSPORT", "URL_CREDENTIALS", "BANK_ACCOUNT")


def tool_message(r: random.Random, canaries: list[str]) -> ChatMessage:
    args = {}
    for key in ("to", "account", "note"):
        entity = r.choice(TYPES)
        text, value = canary(r, entity)
        canaries.append(value)
        args[key] = text if needs_context(entity, value) else value
    call = {"name": "send_payment", "arguments": args}
    return ChatMessage("tool", json.dumps(call, ensure_ascii=False), name="send_payment")


def case(r: random.Random) -> tuple[GenerateRequest, list[str]]:
    canaries: list[str] = []
    text, value = canary(r, r.choice(TYPES))
    canaries.append(value)
    messages = [ChatMessage("system", rag_context(r, canaries)),
                ChatMessage("user", f"{r.choice(FILLERS)}{text}"),
                ChatMessage("assistant", "Let me check."), tool_message(r, canaries)]
    text, value = canary(r, r.choice(TYPES))
    canaries.append(value)
    messages.append(ChatMessage("user", f"hard question about {text}, please"))
    return GenerateRequest(messages=messages, max_tokens=400), canaries


def forms(value: str) -> set[str]:
    """The ways a value could show up in a request body."""
    out = {value, json.dumps(value, ensure_ascii=False)[1:-1], json.dumps(value)[1:-1]}
    digits = re.sub(r"\D", "", value)
    if len(digits) >= 10:
        out.add(digits)
    return {f for f in out if len(f) >= 6}


def test_no_canary_reaches_the_upstream(upstream):
    upstream.reset()
    remote = RemoteEngine(upstream.url, model="big-model", timeout=10)
    engine = RoutedEngine(FakeLocal(n_ctx=100000), remote, guard=Guard(),
                          config=RouteConfig(judge_tokens=4))
    r = random.Random(20240601)
    all_canaries = []
    for _ in range(CASES):
        request, canaries = case(r)
        all_canaries.extend(canaries)
        out = collect(engine.generate(request))
        assert out.usage.decision.route == "remote", out.usage.decision
        last_user = request.messages[-1].content
        assert out.text == "You said: " + last_user  # the answer comes back unmasked
    bodies = [json.dumps(rec["body"], ensure_ascii=False) for rec in upstream.recording.requests]
    flat = "\n".join(bodies)
    flat_digits = re.sub(r"\D", "", flat)
    assert len(bodies) == CASES and len(set(all_canaries)) > CASES * 4
    leaks = [v for v in all_canaries for f in forms(v)
             if f in flat or (f.isdigit() and f in flat_digits)]
    assert leaks == []
    assert set(re.findall(r"<([A-Z_]+)_\d+>", flat)) >= {"EMAIL", "PHONE", "CREDIT_CARD", "IBAN",
                                                         "API_KEY", "KR_RRN"}


def schema_with(r: random.Random, canaries: list[str]) -> dict:
    """A response schema (as a tool plan or ``response_format`` builds it) with canaries in
    every place a schema carries data: enum, const, default, examples, description, title,
    and a property name."""
    def value() -> str:
        entity = r.choice(TYPES)
        text, v = canary(r, entity)
        canaries.append(v)
        return text if needs_context(entity, v) else v

    key = value()
    return {"type": "object", "title": value(), "description": f"Pick one: {value()}",
            "properties": {
                "to": {"type": "string", "enum": [value(), value(), "nobody"]},
                "account": {"const": value(), "description": value()},
                "note": {"type": "string", "default": value(),
                         "examples": [value(), {"x": value()}]},
                key: {"type": "string"}},
            "required": ["to", key]}


def named_case(r: random.Random) -> tuple[GenerateRequest, list[str]]:
    """Names on messages (a participant's name, a canary in a tool's name) and a schema."""
    canaries: list[str] = []
    person = r.choice(["alice_kim", "Jane-Doe", "kim.minsu", "홍길동", "j.smith_1987"])
    canaries.append(person)
    _, email = canary(r, "EMAIL")
    canaries.append(email)
    text, value = canary(r, r.choice(TYPES))
    canaries.append(value)
    messages = [ChatMessage("user", "hello there", name=person),
                ChatMessage("tool", "{}", name=f"lookup_{email}"),
                ChatMessage("user", f"hard question about {text}, please", name=person)]
    return (GenerateRequest(messages=messages, max_tokens=400,
                            json_schema=schema_with(r, canaries)), canaries)


def test_no_canary_in_names_or_schemas_reaches_the_upstream(upstream):
    upstream.reset()
    remote = RemoteEngine(upstream.url, model="big-model", timeout=10)
    engine = RoutedEngine(FakeLocal(n_ctx=100000), remote, guard=Guard(),
                          config=RouteConfig(judge_tokens=4))
    r = random.Random(20240613)
    all_canaries = []
    for _ in range(CASES // 2):
        request, canaries = named_case(r)
        all_canaries.extend(canaries)
        out = collect(engine.generate(request, route="remote"))
        assert out.usage.decision.route == "remote", out.usage.decision
        assert out.text == "You said: " + request.messages[-1].content
    bodies = [rec["body"] for rec in upstream.recording.requests]
    flat = "\n".join(json.dumps(b, ensure_ascii=False) for b in bodies)
    flat_digits = re.sub(r"\D", "", flat)
    leaks = sorted({v for v in all_canaries for f in forms(v)
                    if f in flat or (f.isdigit() and f in flat_digits)})
    assert leaks == []
    # the schema keeps its shape; names stay valid OpenAI names ([A-Za-z0-9_-]{1,64})
    schema = bodies[0]["response_format"]["json_schema"]["schema"]
    assert schema["type"] == "object" and "nobody" in schema["properties"]["to"]["enum"]
    assert len(schema["properties"]) == 4 and set(schema["required"]) <= set(schema["properties"])
    names = [m["name"] for b in bodies for m in b["messages"] if "name" in m]
    assert names and all(re.fullmatch(r"[A-Za-z0-9_\-]{1,64}", n) for n in names), names
