"""The HTTP layer in-process: ``create_app`` over fake engines, through Starlette's
TestClient (and a loopback uvicorn thread where a real socket matters). Fast: no model.

Covers what the integration tests check on the real model — OpenAI and Ollama routes,
streaming shapes, errors, auth, limits, metrics, health — plus what a real model cannot show
deterministically (the exact request that reached the engine, a tool call or a plain answer
on demand, an engine failing mid-stream, a full queue).
"""

from __future__ import annotations

import base64
import json
import struct
import threading
import time

import httpx
import pytest
from starlette.testclient import TestClient

from helpers.fake_engine import FakeLocal
from helpers.fake_server import FakeLoader, LiveServer, fake_app
from slmkit.serve.auth import ApiKeys
from slmkit.serve.registry import ModelDefaults

TOOL_ANSWER = '{"name": "get_weather", "arguments": {"city": "Oslo", "unit": "celsius"}}'
WEATHER_TOOL = {"type": "function", "function": {
    "name": "get_weather", "description": "Current weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"},
                                                    "unit": {"enum": ["celsius", "fahrenheit"]}},
                   "required": ["city", "unit"]}}}
HI = [{"role": "user", "content": "hello there"}]
QWEN_ANSWER = ('Let me look. <tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo", '
               '"unit": "celsius"}}\n</tool_call>\n<tool_call>\n{"name": "get_weather", '
               '"arguments": {"city": "Rome", "unit": "celsius"}}\n</tool_call>')
MB = 1 << 20
LOOPBACK = "http://127.0.0.1:8000"  # the Host check answers loopback names only


def models() -> dict:
    return {
        "fake": lambda: FakeLocal(name="fake"),
        "fake-small": lambda: FakeLocal(name="fake-small", n_ctx=32),
        "fake-noembed": lambda: FakeLocal(name="fake-noembed", embed=False),
        "fake-broken": lambda: FakeLocal(name="fake-broken", fail_after=2),
        "fake-json": lambda: FakeLocal(name="fake-json", grammar=True,
                                       answer='{"city": "Paris"}'),
        "fake-tool": lambda: FakeLocal(name="fake-tool", grammar=True,
                                       schema_answer=TOOL_ANSWER),
        "fake-plain": lambda: FakeLocal(name="fake-plain", grammar=True,
                                        answer="No tool needed."),
        "fake-qwen": lambda: FakeLocal(name="fake-qwen", grammar=True, schema_answer=QWEN_ANSWER,
                                       chat_template="{{ tools }} <tool_call> {{ messages }}"),
        "fake-defaults": lambda: FakeLocal(name="fake-defaults"),
    }


DEFAULTS = {"fake-defaults": ModelDefaults(system="Be brief.", sampling={"temperature": 0.2,
                                                                          "top_p": 0.5})}


@pytest.fixture
def loader() -> FakeLoader:
    return FakeLoader(models(), defaults=DEFAULTS)


@pytest.fixture
def client(loader):
    app, _ = fake_app(loader, max_body_bytes=64 * 1024)
    with TestClient(app, base_url=LOOPBACK) as c:
        yield c


def engine(loader: FakeLoader, name: str = "fake") -> FakeLocal:
    return loader.last(name)


def sse(r) -> list:
    """The ``data:`` payloads of an SSE body (``[DONE]`` kept as a string)."""
    assert r.headers["content-type"].startswith("text/event-stream")
    out = []
    for line in r.text.splitlines():
        if line.startswith("data: "):
            data = line[6:]
            out.append(data if data == "[DONE]" else json.loads(data))
    return out


def ndjson(r) -> list[dict]:
    assert r.headers["content-type"].startswith("application/x-ndjson")
    return [json.loads(line) for line in r.text.splitlines() if line.strip()]


def error_of(r) -> dict:
    return r.json()["error"]


# ---- OpenAI: models ---------------------------------------------------------------------------
def test_models_list_and_get(client):
    r = client.get("/v1/models")
    assert r.status_code == 200 and r.json()["object"] == "list"
    ids = [m["id"] for m in r.json()["data"]]
    assert ids == sorted(models())
    card = client.get("/v1/models/fake").json()
    assert card == {"id": "fake", "object": "model", "created": 1_700_000_000,
                    "owned_by": "slmkit"}
    r = client.get("/v1/models/nope")
    assert r.status_code == 404 and error_of(r)["code"] == "model_not_found"


# ---- OpenAI: chat ---------------------------------------------------------------------------
def test_chat_non_streaming_maps_the_request_and_the_answer(client, loader):
    r = client.post("/v1/chat/completions", json={
        "model": "fake", "messages": [{"role": "system", "content": "Be kind."}, *HI],
        "max_tokens": 10, "temperature": 0, "seed": 7, "top_k": 3, "stop": ["zzz"]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["object"] == "chat.completion" and body["model"] == "fake"
    assert body["id"].startswith("chatcmpl-")
    (choice,) = body["choices"]
    assert choice["message"] == {"role": "assistant", "content": "local: hello there "}
    assert choice["finish_reason"] == "stop" and choice["logprobs"] is None
    assert body["usage"] == {"prompt_tokens": 6, "completion_tokens": 3, "total_tokens": 9}
    (req,) = engine(loader).requests
    assert [(m.role, m.content) for m in req.messages] == [("system", "Be kind."),
                                                            ("user", "hello there")]
    assert req.max_tokens == 10 and req.stop == ("zzz",) and req.json_schema is None
    s = req.sampling
    assert (s.temperature, s.seed, s.top_k) == (0, 7, 3)


def test_chat_streaming_has_role_deltas_finish_usage_and_done(client):
    r = client.post("/v1/chat/completions", json={
        "model": "fake", "messages": HI, "stream": True,
        "stream_options": {"include_usage": True}})
    assert r.status_code == 200 and r.headers["cache-control"] == "no-cache"
    events = sse(r)
    assert events[-1] == "[DONE]"
    chunks = events[:-1]
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert {c["id"] for c in chunks} == {chunks[0]["id"]}
    texts = [c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"]]
    assert "".join(texts) == "local: hello there "
    finishes = [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]]
    assert [f for f in finishes if f] == ["stop"]
    usage = chunks[-1]
    assert usage["choices"] == [] and usage["usage"]["completion_tokens"] == 3


def test_chat_length_finish_and_max_completion_tokens(client, loader):
    r = client.post("/v1/chat/completions", json={"model": "fake", "messages": HI,
                                                  "max_completion_tokens": 2})
    body = r.json()
    assert body["choices"][0]["message"]["content"] == "local: hello "
    assert body["choices"][0]["finish_reason"] == "length"
    assert body["usage"]["completion_tokens"] == 2
    assert engine(loader).requests[-1].max_tokens == 2


def test_chat_stop_string_is_passed_and_excluded(client, loader):
    r = client.post("/v1/chat/completions", json={"model": "fake", "messages": HI,
                                                  "stop": "there"})
    choice = r.json()["choices"][0]
    assert choice["message"]["content"] == "local: hello " and choice["finish_reason"] == "stop"
    assert engine(loader).requests[-1].stop == ("there",)


def test_chat_logprobs_shape(client, loader):
    r = client.post("/v1/chat/completions", json={"model": "fake", "messages": HI,
                                                  "logprobs": True, "top_logprobs": 2})
    body = r.json()
    content = body["choices"][0]["logprobs"]["content"]
    assert [t["token"] for t in content] == ["local: ", "hello ", "there "]
    assert "".join(t["token"] for t in content) == body["choices"][0]["message"]["content"]
    for t in content:
        assert t["logprob"] == -0.1 and t["bytes"] == list(t["token"].encode())
        assert [a["token"] for a in t["top_logprobs"]] == [t["token"], "maybe "]
    assert engine(loader).requests[-1].logprobs == 2
    plain = client.post("/v1/chat/completions", json={"model": "fake", "messages": HI,
                                                      "top_logprobs": 2}).json()
    assert plain["choices"][0]["logprobs"] is None  # top_logprobs alone asks for nothing
    assert engine(loader).requests[-1].logprobs is None


def test_chat_streaming_logprobs_ride_on_the_deltas(client):
    r = client.post("/v1/chat/completions", json={"model": "fake", "messages": HI,
                                                  "stream": True, "logprobs": True})
    tokens = [t["token"] for e in sse(r)[:-1] for c in e["choices"]
              if c["logprobs"] for t in c["logprobs"]["content"]]
    assert "".join(tokens) == "local: hello there "


def test_model_defaults_fill_what_the_request_leaves_out(client, loader):
    client.post("/v1/chat/completions", json={"model": "fake-defaults", "messages": HI})
    req = engine(loader, "fake-defaults").requests[-1]
    assert req.messages[0].role == "system" and req.messages[0].content == "Be brief."
    assert (req.sampling.temperature, req.sampling.top_p) == (0.2, 0.5)
    client.post("/v1/chat/completions", json={
        "model": "fake-defaults", "temperature": 0.9,
        "messages": [{"role": "developer", "content": "Mine."}, *HI]})
    req = engine(loader, "fake-defaults").requests[-1]
    assert [m.content for m in req.messages] == ["Mine.", "hello there"]
    assert (req.sampling.temperature, req.sampling.top_p) == (0.9, 0.5)


def test_content_parts_are_joined_and_images_refused(client, loader):
    r = client.post("/v1/chat/completions", json={"model": "fake", "messages": [
        {"role": "user", "content": [{"type": "text", "text": "one "},
                                     {"type": "text", "text": "two"}]}]})
    assert r.json()["choices"][0]["message"]["content"] == "local: one two "
    r = client.post("/v1/chat/completions", json={"model": "fake", "messages": [
        {"role": "user", "content": [{"type": "image_url", "text": None}]}]})
    assert r.status_code == 400 and "image_url" in error_of(r)["message"]


# ---- OpenAI: structured output and tools ------------------------------------------------------
def test_json_schema_and_json_object_reach_the_engine(client, loader):
    schema = {"type": "object", "properties": {"city": {"type": "string"}}}
    r = client.post("/v1/chat/completions", json={
        "model": "fake-json", "messages": HI,
        "response_format": {"type": "json_schema", "json_schema": {"name": "c",
                                                                   "schema": schema}}})
    assert json.loads(r.json()["choices"][0]["message"]["content"]) == {"city": "Paris"}
    assert engine(loader, "fake-json").requests[-1].json_schema == schema
    client.post("/v1/chat/completions", json={"model": "fake-json", "messages": HI,
                                              "response_format": {"type": "json_object"}})
    assert engine(loader, "fake-json").requests[-1].json_schema == {}
    client.post("/v1/chat/completions", json={"model": "fake-json", "messages": HI,
                                              "response_format": {"type": "text"}})
    assert engine(loader, "fake-json").requests[-1].json_schema is None
    r = client.post("/v1/chat/completions", json={"model": "fake-json", "messages": HI,
                                                  "response_format": {"type": "json_schema"}})
    assert r.status_code == 400 and "json_schema" in error_of(r)["message"]


def test_required_tool_call_is_parsed_into_tool_calls(client, loader):
    r = client.post("/v1/chat/completions", json={
        "model": "fake-tool", "messages": HI, "tools": [WEATHER_TOOL],
        "tool_choice": "required"})
    choice = r.json()["choices"][0]
    assert choice["finish_reason"] == "tool_calls" and choice["message"]["content"] is None
    (call,) = choice["message"]["tool_calls"]
    assert call["type"] == "function" and call["id"].startswith("call-")
    assert call["function"]["name"] == "get_weather"
    assert json.loads(call["function"]["arguments"]) == {"city": "Oslo", "unit": "celsius"}
    req = engine(loader, "fake-tool").requests[-1]
    schema = req.tool_calls.call_schema
    assert schema["properties"]["name"] == {"const": "get_weather"}
    assert schema["required"] == ["name", "arguments"]  # a call, nothing else
    assert not req.tool_calls.lazy and req.tool_calls.names == ("get_weather",)
    assert "get_weather" in req.messages[0].content  # the tool instructions, as system text
    assert req.tools is None  # no chat template of its own for tools


def test_auto_tool_choice_answers_in_text_when_the_model_does(client, loader):
    r = client.post("/v1/chat/completions", json={"model": "fake-plain", "messages": HI,
                                                  "tools": [WEATHER_TOOL]})
    choice = r.json()["choices"][0]
    assert choice["finish_reason"] == "stop" and "tool_calls" not in choice["message"]
    assert choice["message"]["content"] == "No tool needed."
    req = engine(loader, "fake-plain").requests[-1]
    assert req.tool_calls.lazy and req.json_schema is None  # auto: constrained once a call starts


def test_native_template_gets_the_tools_and_parallel_calls_come_back(client, loader):
    r = client.post("/v1/chat/completions", json={"model": "fake-qwen", "messages": HI,
                                                  "tools": [WEATHER_TOOL]})
    choice = r.json()["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] == "Let me look."
    cities = [json.loads(c["function"]["arguments"])["city"]
              for c in choice["message"]["tool_calls"]]
    assert cities == ["Oslo", "Rome"]
    req = engine(loader, "fake-qwen").requests[-1]
    assert req.tools == [WEATHER_TOOL]  # the template describes them
    assert all("get_weather" not in m.content for m in req.messages)
    r = client.post("/v1/chat/completions", json={"model": "fake-qwen", "messages": HI,
                                                  "tools": [WEATHER_TOOL],
                                                  "parallel_tool_calls": False})
    assert not engine(loader, "fake-qwen").requests[-1].tool_calls.parallel


def test_streamed_text_before_a_call_is_content_and_the_call_never_leaks(client):
    r = client.post("/v1/chat/completions", json={"model": "fake-qwen", "messages": HI,
                                                  "tools": [WEATHER_TOOL], "stream": True})
    choices = [c for e in sse(r)[:-1] for c in e["choices"]]
    text = "".join(c["delta"].get("content") or "" for c in choices)
    assert text.strip() == "Let me look." and "<tool" not in text
    calls = [tc for c in choices for tc in c["delta"].get("tool_calls") or []]
    assert [c["index"] for c in calls] == [0, 1]
    assert [c["finish_reason"] for c in choices if c["finish_reason"]] == ["tool_calls"]


REPEATED = [*HI,
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": "call_1", "type": "function",
                 "function": {"name": "get_weather",
                              "arguments": '{"city": "Oslo", "unit": "celsius"}'}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": '{"temperature": 21}'}]


@pytest.mark.parametrize("stream", [False, True])
def test_a_repeated_answered_call_is_replaced_by_a_text_answer(client, loader, stream):
    r = client.post("/v1/chat/completions", json={"model": "fake-tool", "messages": REPEATED,
                                                  "tools": [WEATHER_TOOL], "stream": stream})
    if stream:
        choices = [c for e in sse(r)[:-1] for c in e["choices"]]
        text = "".join(c["delta"].get("content") or "" for c in choices)
        assert not any(c["delta"].get("tool_calls") for c in choices)
        finish = [c["finish_reason"] for c in choices if c["finish_reason"]]
    else:
        msg = r.json()["choices"][0]["message"]
        text, finish = msg["content"], [r.json()["choices"][0]["finish_reason"]]
        assert "tool_calls" not in msg
    assert finish == ["stop"] and text.startswith("local:")  # the fake's text answer
    first, retry = engine(loader, "fake-tool").requests[-2:]
    assert first.tool_calls is not None
    assert retry.tool_calls is None and retry.grammar is not None  # text only
    assert "<tool_call>" in retry.stop
    assert retry.messages[-1].role == "system" and "tool results" in retry.messages[-1].content


def test_named_tool_choice_streams_one_tool_call_delta(client):
    r = client.post("/v1/chat/completions", json={
        "model": "fake-tool", "messages": HI, "tools": [WEATHER_TOOL], "stream": True,
        "tool_choice": {"type": "function", "function": {"name": "get_weather"}}})
    choices = [c for e in sse(r)[:-1] for c in e["choices"]]
    calls = [tc for c in choices for tc in c["delta"].get("tool_calls") or []]
    assert len(calls) == 1 and calls[0]["index"] == 0
    assert json.loads(calls[0]["function"]["arguments"])["city"] == "Oslo"
    assert not any(c["delta"].get("content") for c in choices[1:])  # no raw JSON leaks
    assert [c["finish_reason"] for c in choices if c["finish_reason"]] == ["tool_calls"]


def test_tool_result_turns_are_rendered_for_the_model(client, loader):
    r = client.post("/v1/chat/completions", json={"model": "fake", "messages": [
        *HI,
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function",
             "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": '{"temperature": 21}'}]})
    assert r.status_code == 200
    msgs = engine(loader).requests[-1].messages
    assert [m.role for m in msgs] == ["user", "assistant", "tool"]
    (call,) = msgs[1].tool_calls  # the template renders it its own way
    assert (call.name, call.arguments, call.id) == ("get_weather", {"city": "Paris"}, "call_1")
    assert msgs[2].content == '{"temperature": 21}' and msgs[2].tool_call_id == "call_1"
    assert msgs[2].name == "get_weather"


def test_tools_and_response_format_together_are_refused(client):
    r = client.post("/v1/chat/completions", json={
        "model": "fake-tool", "messages": HI, "tools": [WEATHER_TOOL],
        "response_format": {"type": "json_object"}})
    assert r.status_code == 400 and "not both" in error_of(r)["message"]
    r = client.post("/v1/chat/completions", json={
        "model": "fake-tool", "messages": HI, "tools": [WEATHER_TOOL],
        "tool_choice": {"type": "function", "function": {"name": "nope"}}})
    assert r.status_code == 400 and "nope" in error_of(r)["message"]


# ---- OpenAI: completions and embeddings ---------------------------------------------------------
def test_completion_non_streaming_and_streaming_agree(client, loader):
    body = {"model": "fake", "prompt": "say: once upon", "max_tokens": 8}
    whole = client.post("/v1/completions", json=body).json()
    assert whole["object"] == "text_completion" and whole["id"].startswith("cmpl-")
    assert whole["choices"][0]["text"] == "local: once upon "
    req = engine(loader).requests[-1]
    assert req.prompt == "say: once upon" and req.messages is None
    events = sse(client.post("/v1/completions", json=dict(
        body, stream=True, stream_options={"include_usage": True})))
    assert events[-1] == "[DONE]"
    parts = [c["choices"][0]["text"] for c in events[:-1] if c["choices"]]
    assert "".join(parts) == whole["choices"][0]["text"]
    assert events[-2]["usage"] == whole["usage"]


def test_completion_prompt_forms(client, loader):
    r = client.post("/v1/completions", json={"model": "fake", "prompt": ["one: two"]})
    assert r.json()["choices"][0]["text"] == "local: two "
    ids = FakeLocal().tokenize("x: from tokens")
    r = client.post("/v1/completions", json={"model": "fake", "prompt": ids})
    assert r.json()["choices"][0]["text"] == "local: from tokens "
    assert list(engine(loader).requests[-1].prompt_tokens) == ids
    r = client.post("/v1/completions", json={"model": "fake", "prompt": ["a", "b"]})
    assert r.status_code == 400 and "one prompt per request" in error_of(r)["message"]
    for extra in ({"echo": True}, {"suffix": "end"}):
        r = client.post("/v1/completions", json={"model": "fake", "prompt": "x", **extra})
        assert r.status_code == 400 and "not supported" in error_of(r)["message"]


def test_completion_default_max_tokens_is_openais_16(client, loader):
    client.post("/v1/completions", json={"model": "fake", "prompt": "x"})
    assert engine(loader).requests[-1].max_tokens == 16


def test_completion_legacy_logprobs_shape(client):
    r = client.post("/v1/completions", json={"model": "fake", "prompt": "a: b c",
                                             "logprobs": 2})
    lp = r.json()["choices"][0]["logprobs"]
    assert lp["tokens"] == ["local: ", "b ", "c "] and lp["token_logprobs"] == [-0.1] * 3
    assert lp["text_offset"] == [0, 7, 9]
    assert lp["top_logprobs"][1] == {"b ": -0.1, "maybe ": -1.1}


def test_embeddings_float_and_base64(client, loader):
    r = client.post("/v1/embeddings", json={"model": "fake", "input": ["ab", "abcd"]})
    body = r.json()
    assert [d["embedding"] for d in body["data"]] == [[2.0], [4.0]]
    assert [d["index"] for d in body["data"]] == [0, 1] and body["usage"]["prompt_tokens"] == 2
    r = client.post("/v1/embeddings", json={"model": "fake", "input": "abc",
                                            "encoding_format": "base64"})
    raw = base64.b64decode(r.json()["data"][0]["embedding"])
    assert struct.unpack("<1f", raw) == (3.0,)


def test_embeddings_on_a_model_without_them_is_400(client):
    r = client.post("/v1/embeddings", json={"model": "fake-noembed", "input": "x"})
    assert r.status_code == 400 and error_of(r)["code"] == "not_supported"
    assert "embeddings" in error_of(r)["message"]
    r = client.post("/api/embed", json={"model": "fake-noembed", "input": "x"})
    assert r.status_code == 400 and "embeddings" in r.json()["error"]


# ---- OpenAI: errors ---------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/completions", "/v1/embeddings",
                                  "/api/chat", "/api/generate", "/api/embed"])
def test_malformed_json_is_400_in_each_apis_shape(client, path):
    r = client.post(path, content=b'{"model": "fake", "messages": [',
                    headers={"content-type": "application/json"})
    assert r.status_code == 400
    err = r.json()["error"]
    message = err if path.startswith("/api/") else err["message"]
    assert "not valid JSON" in message
    if not path.startswith("/api/"):
        assert err["type"] == "invalid_request_error" and err["code"] == "invalid_request"


def test_body_without_content_type_is_read_as_json(client):
    """No Content-Type (some Ollama clients): read as JSON. A form type (what `curl -d`
    sends, and a cross-site page can) is 415 since issue 13: see test_security_http.py."""
    body = json.dumps({"model": "fake", "messages": HI}).encode()
    r = client.post("/v1/chat/completions", content=body)
    assert r.status_code == 200, r.text
    r = client.post("/v1/chat/completions", content=body,
                    headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.status_code == 415 and "application/json" in r.json()["error"]["hint"]


def test_missing_and_invalid_fields_are_400_naming_the_field(client):
    cases = [({"model": "fake"}, "messages"),
             ({"model": "fake", "messages": HI, "temperature": "hot"}, "temperature"),
             ({"model": "fake", "messages": HI, "temperature": 3}, "temperature"),
             ({"model": "fake", "messages": HI, "n": 3}, "n"),
             ({"model": "fake", "messages": HI, "stop": [""]}, "stop"),
             ({"model": "fake", "messages": HI, "top_logprobs": 99}, "top_logprobs"),
             ({"model": "fake", "messages": [{"role": "wizard", "content": "x"}]}, "role"),
             ({"model": "fake", "messages": HI, "tool_choice": "required"}, "tools"),
             ({"messages": HI}, "model")]
    for body, field in cases:
        r = client.post("/v1/chat/completions", json=body)
        assert r.status_code == 400, (body, r.text)
        assert field in error_of(r)["message"], (body, error_of(r))


def test_unknown_model_is_404_with_suggestions_in_both_apis(client):
    r = client.post("/v1/chat/completions", json={"model": "fakee", "messages": HI})
    assert r.status_code == 404
    err = error_of(r)
    assert err["code"] == "model_not_found" and err["type"] == "not_found_error"
    assert "did you mean" in err["message"] and "fake" in err["message"]
    assert "/v1/models" in err["hint"]
    r = client.post("/api/chat", json={"model": "fakee", "messages": HI})
    assert r.status_code == 404 and "fake" in r.json()["error"]


def test_prompt_over_context_is_400_naming_both_numbers(client, loader):
    prompt = "word " * 40
    r = client.post("/v1/completions", json={"model": "fake-small", "prompt": prompt})
    assert r.status_code == 400
    err = error_of(r)
    assert err["code"] == "context_overflow" and "40" in err["message"]
    assert "32" in err["message"] and "--ctx" in err["hint"]
    r = client.post("/api/generate", json={"model": "fake-small", "prompt": prompt,
                                           "raw": True})
    assert r.status_code == 400 and "32" in r.json()["error"]
    assert engine(loader, "fake-small").requests == []  # refused before generating


def test_stream_requests_are_validated_before_the_stream_starts(client):
    r = client.post("/v1/chat/completions", json={"model": "fake-small", "stream": True,
                                                  "messages": [{"role": "user",
                                                                "content": "w " * 40}]})
    assert r.status_code == 400 and r.headers["content-type"] == "application/json"
    r = client.post("/v1/chat/completions", json={"model": "fake", "stream": True,
                                                  "messages": HI, "max_tokens": -1})
    assert r.status_code == 400


def test_engine_failure_mid_stream_is_an_error_event_then_done(client):
    events = sse(client.post("/v1/chat/completions", json={
        "model": "fake-broken", "messages": HI, "stream": True}))
    assert events[-1] == "[DONE]"
    err = events[-2]["error"]
    assert err["code"] == "internal_error" and "failed on purpose" not in err["message"]
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in events[:-2]
                   if c.get("choices"))
    assert text == "local: hello "  # what came before the failure was delivered
    lines = ndjson(client.post("/api/chat", json={"model": "fake-broken", "messages": HI}))
    assert "error" in lines[-1] and not any(x.get("done") for x in lines)


def test_engine_failure_without_streaming_is_a_500_without_details(client):
    r = client.post("/v1/chat/completions", json={"model": "fake-broken", "messages": HI})
    assert r.status_code == 500
    assert error_of(r)["code"] == "internal_error"
    assert "on purpose" not in r.text and "Traceback" not in r.text


def test_unknown_route_and_wrong_method(client):
    r = client.get("/v1/nothing")
    assert r.status_code == 404 and error_of(r)["code"] == "not_found"
    r = client.get("/v1/chat/completions")
    assert r.status_code == 405 and error_of(r)["code"] == "method_not_allowed"


def test_body_over_the_limit_is_413(client):
    r = client.post("/v1/completions", json={"model": "fake", "prompt": "x" * (70 * 1024)})
    assert r.status_code == 413 and "at most 65,536 bytes" in error_of(r)["message"]

    def chunked():
        for _ in range(70):
            yield b" " * 1024

    r = client.post("/v1/completions", content=chunked(),
                    headers={"content-type": "application/json"})
    assert r.status_code == 413


# ---- Ollama ---------------------------------------------------------------------------------
def test_ollama_chat_streams_ndjson_and_ends_with_stats(client, loader):
    lines = ndjson(client.post("/api/chat", json={
        "model": "fake", "messages": HI, "options": {"num_predict": 5, "temperature": 0,
                                                    "stop": ["zzz"], "seed": 3}}))
    assert all(not x["done"] for x in lines[:-1]) and lines[-1]["done"]
    text = "".join(x["message"]["content"] for x in lines)
    assert text == "local: hello there "
    last = lines[-1]
    assert last["done_reason"] == "stop" and last["eval_count"] == 3
    assert last["prompt_eval_count"] == 3 and last["total_duration"] > 0
    req = engine(loader).requests[-1]
    assert req.max_tokens == 5 and req.stop == ("zzz",) and req.sampling.seed == 3


def test_ollama_chat_non_streaming_and_length(client):
    r = client.post("/api/chat", json={"model": "fake", "messages": HI, "stream": False,
                                       "options": {"num_predict": 1}})
    body = r.json()
    assert body["done"] and body["done_reason"] == "length"
    assert body["message"] == {"role": "assistant", "content": "local: "}


def test_ollama_generate_chat_and_raw(client, loader):
    r = client.post("/api/generate", json={"model": "fake", "prompt": "why?", "stream": False,
                                           "system": "Sys."})
    assert r.json()["response"] == "local: why? " and r.json()["done"]
    req = engine(loader).requests[-1]
    assert [(m.role, m.content) for m in req.messages] == [("system", "Sys."),
                                                            ("user", "why?")]
    lines = ndjson(client.post("/api/generate", json={"model": "fake", "prompt": "x: raw",
                                                      "raw": True}))
    assert "".join(x["response"] for x in lines) == "local: raw "
    assert engine(loader).requests[-1].prompt == "x: raw"
    r = client.post("/api/generate", json={"model": "fake", "prompt": "x", "images": ["aGk="]})
    assert r.status_code == 400 and "images" in r.json()["error"]


def test_ollama_format_and_tools(client, loader):
    r = client.post("/api/chat", json={"model": "fake-json", "messages": HI, "stream": False,
                                       "format": "json"})
    assert json.loads(r.json()["message"]["content"]) == {"city": "Paris"}
    assert engine(loader, "fake-json").requests[-1].json_schema == {}
    r = client.post("/api/chat", json={"model": "fake-tool", "messages": HI, "stream": False,
                                       "tools": [WEATHER_TOOL]})
    msg = r.json()["message"]
    assert msg["tool_calls"] == [{"function": {"name": "get_weather",
                                               "arguments": {"city": "Oslo",
                                                             "unit": "celsius"}}}]
    lines = ndjson(client.post("/api/chat", json={"model": "fake-plain", "messages": HI,
                                                  "tools": [WEATHER_TOOL]}))
    assert "".join(line["message"]["content"] for line in lines) == "No tool needed."
    assert lines[-1]["done"] and "tool_calls" not in lines[-1]["message"]
    r = client.post("/api/chat", json={"model": "fake", "messages": HI, "format": "yaml"})
    assert r.status_code == 400 and "format" in r.json()["error"]


def test_ollama_tags_show_ps_version_pull(client):
    tags = client.get("/api/tags").json()["models"]
    assert [m["name"] for m in tags] == sorted(models())
    assert all(m["digest"].startswith("sha256:") for m in tags)
    assert client.get("/api/ps").json() == {"models": []}
    client.post("/api/generate", json={"model": "fake", "prompt": "hi", "stream": False})
    show = client.post("/api/show", json={"model": "fake"}).json()
    assert show["details"]["family"] == "fake"
    assert show["capabilities"] == ["completion", "tools", "embedding"]
    ps = client.get("/api/ps").json()["models"]
    assert [m["name"] for m in ps] == ["fake"] and ps[0]["context_length"] == 512
    assert client.post("/api/show", json={"model": "nope"}).status_code == 404
    assert client.post("/api/show", json={}).status_code == 400
    from slmkit import __version__

    assert client.get("/api/version").json() == {"version": __version__}
    assert client.post("/api/pull", json={"model": "x"}).status_code == 501


def test_ollama_show_lists_defaults(client):
    client.post("/api/generate", json={"model": "fake-defaults", "prompt": "hi",
                                       "stream": False})
    params = client.post("/api/show", json={"name": "fake-defaults"}).json()["parameters"]
    assert "temperature 0.2" in params and 'system "Be brief."' in params


def test_ollama_load_only_and_keep_alive_zero_unload(client, loader):
    r = client.post("/api/generate", json={"model": "fake"})
    assert r.json()["done_reason"] == "load"
    assert [m["name"] for m in client.get("/api/ps").json()["models"]] == ["fake"]
    r = client.post("/api/chat", json={"model": "fake", "keep_alive": 0})
    assert r.json()["done_reason"] == "unload"
    assert client.get("/api/ps").json()["models"] == [] and engine(loader).closed
    r = client.post("/api/chat", json={"model": "fake", "messages": HI, "stream": False,
                                       "keep_alive": "-1"})
    assert r.status_code == 200 and len(loader.engines["fake"]) == 2  # loaded again
    ps = client.get("/api/ps").json()["models"]
    assert ps[0]["expires_at"].startswith("2318")  # pinned: never expires
    r = client.post("/api/generate", json={"model": "fake", "keep_alive": "soon"})
    assert r.status_code == 400


def test_ollama_embed_and_legacy_embeddings(client):
    r = client.post("/api/embed", json={"model": "fake", "input": ["a", "abc"]}).json()
    assert r["embeddings"] == [[1.0], [3.0]] and r["prompt_eval_count"] == 2
    legacy = client.post("/api/embeddings", json={"model": "fake", "prompt": "ab"}).json()
    assert legacy == {"embedding": [2.0]}
    r = client.post("/api/embed", json={"model": "fake", "input": []})
    assert r.status_code == 400


# ---- auth, CORS, health, metrics ------------------------------------------------------------
@pytest.fixture
def keyed(loader):
    app, _ = fake_app(loader, api_keys=ApiKeys(["k-one", "k-two"]),
                      cors_origins=["http://app.example.test"])
    with TestClient(app, base_url=LOOPBACK) as c:
        yield c


def test_keys_are_required_when_configured(keyed):
    body = {"model": "fake", "messages": HI}
    r = keyed.post("/v1/chat/completions", json=body)
    assert r.status_code == 401 and error_of(r)["message"] == "missing API key"
    assert r.headers["www-authenticate"] == "Bearer"
    assert error_of(r)["type"] == "authentication_error"
    r = keyed.post("/v1/chat/completions", json=body, headers={"Authorization": "Bearer no"})
    assert r.status_code == 401 and error_of(r)["message"] == "invalid API key"
    r = keyed.post("/api/chat", json=body, headers={"X-API-Key": "no"})
    assert r.status_code == 401 and "invalid API key" in r.json()["error"]
    for headers in ({"Authorization": "Bearer k-one"}, {"X-API-Key": "k-two"}):
        assert keyed.post("/v1/chat/completions", json=body, headers=headers).status_code == 200
    assert keyed.get("/metrics").status_code == 401
    assert keyed.get("/v1/models").status_code == 401
    assert keyed.get("/health").status_code == 200  # open paths need no key
    assert _eventually(lambda: keyed.get("/ready").status_code == 200)


def test_no_keys_means_open(client):
    assert client.get("/v1/models").status_code == 200
    assert client.get("/metrics").status_code == 200


def test_cors_only_for_configured_origins(keyed, client):
    pre = {"Origin": "http://app.example.test", "Access-Control-Request-Method": "POST",
           "Access-Control-Request-Headers": "authorization,content-type"}
    r = keyed.options("/v1/chat/completions", headers=pre)
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == "http://app.example.test"
    r = keyed.options("/v1/chat/completions", headers=dict(pre, Origin="http://evil.test"))
    assert "access-control-allow-origin" not in r.headers
    r = client.get("/v1/models", headers={"Origin": "http://app.example.test"})
    assert "access-control-allow-origin" not in r.headers


def test_health_root_and_ready_states(loader):
    release = threading.Event()
    app, _ = fake_app(loader, preload=lambda: release.wait(30))
    with TestClient(app, base_url=LOOPBACK) as c:
        assert c.get("/health").json() == {"status": "ok"}
        root = c.get("/")  # the web UI (issue 18), open without a key, under a strict CSP
        assert "<title>slmkit</title>" in root.text
        assert "script-src 'self'" in root.headers["content-security-policy"]
        r = c.get("/ready")
        assert r.status_code == 503 and r.json()["status"] == "loading"
        release.set()
        assert _eventually(lambda: c.get("/ready").status_code == 200)
        assert c.get("/ready").json() == {"status": "ready", "models": []}

    def broken():
        raise RuntimeError("the model file is gone")

    fatal = []
    app, _ = fake_app(loader, preload=broken, on_fatal=fatal.append)
    with TestClient(app, base_url=LOOPBACK) as c:
        assert _eventually(lambda: c.get("/ready").json()["status"] == "failed")
        assert "model file is gone" in c.get("/ready").json()["error"]
        assert isinstance(fatal[0], RuntimeError)


def _eventually(check, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout  # a hang guard
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.01)
    return False


def test_metrics_count_requests_tokens_and_show_state(client):
    client.post("/v1/chat/completions", json={"model": "fake", "messages": HI, "stream": True})
    client.post("/v1/completions", json={"model": "fake", "prompt": "a: b", "max_tokens": 1})
    client.get("/v1/models/nope")
    client.post("/v1/chat/completions", json={"model": "fake"})
    r = client.get("/metrics")
    assert r.headers["content-type"].startswith("text/plain")
    text = r.text
    chat = 'slm_requests_total{method="POST",route="/v1/chat/completions",status='
    for needle in [chat + '"200"} 1.0', chat + '"400"} 1.0',
                   'slm_requests_total{method="GET",route="/v1/models/{model}",status="404"} 1.0',
                   'slm_completion_tokens_total{model="fake"} 4.0',
                   'slm_prompt_tokens_total{model="fake"} 5.0',
                   'slm_generations_total{finish_reason="stop",model="fake"} 1.0',
                   'slm_generations_total{finish_reason="length",model="fake"} 1.0',
                   'slm_time_to_first_token_seconds_count{model="fake"} 2.0',
                   'slm_queue_depth{model="fake"} 0.0', 'slm_busy_slots{model="fake"} 0.0',
                   'slm_slots{model="fake"} 4.0', "slm_loaded_models 1.0"]:
        assert needle in text, needle


def test_access_log_has_one_json_line_per_request(client, caplog):
    import logging

    with caplog.at_level(logging.INFO, logger="slmkit.access"):
        client.post("/v1/completions", json={"model": "fake", "prompt": "a: b c",
                                             "max_tokens": 2})
        client.get("/v1/models/access-log-marker")
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "slmkit.access"]
    gen, marker = lines
    assert gen["path"] == "/v1/completions" and gen["status"] == 200
    assert gen["model"] == "fake" and gen["completion_tokens"] == 2
    assert gen["finish_reason"] == "length" and "ttft_ms" in gen
    assert marker["status"] == 404 and marker["path"] == "/v1/models/access-log-marker"


# ---- overload, memory budget, concurrency, disconnects ---------------------------------------
def test_full_queue_is_429_with_retry_after(loader):
    gate = threading.Event()
    held = FakeLoader({"fake": lambda: FakeLocal(name="fake", gate=gate, max_sequences=1)})
    app, service = fake_app(held, queue=0)
    with TestClient(app, base_url=LOOPBACK) as c:
        first: list = []
        t = threading.Thread(target=lambda: first.append(c.post(
            "/v1/chat/completions", json={"model": "fake", "messages": HI})))
        t.start()
        assert _eventually(lambda: held.engines["fake"] and held.last("fake").active == 1)
        r = c.post("/v1/chat/completions", json={"model": "fake", "messages": HI})
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
        assert error_of(r)["code"] == "queue_full" and error_of(r)["type"] == "rate_limit_error"
        r = c.post("/api/chat", json={"model": "fake", "messages": HI})
        assert r.status_code == 429 and "queue is full" in r.json()["error"]
        gate.set()
        t.join(30)
        assert first[0].status_code == 200
        assert c.post("/v1/chat/completions", json={"model": "fake",
                                                    "messages": HI}).status_code == 200


def test_memory_budget_is_503_with_a_hint():
    big = FakeLoader({"big": lambda: FakeLocal(name="big")}, memory={"big": 8 << 30})
    app, _ = fake_app(big, memory_budget=1 << 30)
    with TestClient(app, base_url=LOOPBACK) as c:
        r = c.post("/v1/chat/completions", json={"model": "big", "messages": HI})
        assert r.status_code == 503 and error_of(r)["code"] == "memory_budget"
        assert "--memory-budget" in error_of(r)["hint"]
        assert big.engines["big"] == []  # never loaded


def test_closed_engine_is_503(client, loader):
    client.post("/api/generate", json={"model": "fake"})
    engine(loader).close()
    r = client.post("/v1/chat/completions", json={"model": "fake", "messages": HI})
    assert r.status_code == 503 and error_of(r)["code"] == "engine_closed"


def _stream_lines(url: str, body: dict, n: int) -> list[str]:
    """Read ``n`` SSE data lines of a chat stream, then hang up."""
    with httpx.Client(base_url=url, timeout=30) as c, \
            c.stream("POST", "/v1/chat/completions", json=body) as r:
        assert r.status_code == 200
        got = []
        for line in r.iter_lines():
            if line.startswith("data: "):
                got.append(line)
                if len(got) == n:
                    break
        return got


def test_concurrent_requests_run_at_once_on_a_live_socket():
    gate = threading.Event()
    held = FakeLoader({"fake": lambda: FakeLocal(name="fake", gate=gate, max_sequences=4)})
    app, _ = fake_app(held)
    with LiveServer(app) as srv:
        results: list = []

        def one(i):
            r = httpx.post(srv.url + "/v1/chat/completions", timeout=30, json={
                "model": "fake", "messages": [{"role": "user", "content": f"n{i}"}]})
            results.append(r.json()["choices"][0]["message"]["content"])

        threads = [threading.Thread(target=one, args=(i,)) for i in range(3)]
        for t in threads:
            t.start()
        # all three are inside the engine before any may finish: they overlap
        assert _eventually(lambda: held.engines["fake"] and held.last("fake").active == 3)
        gate.set()
        for t in threads:
            t.join(30)
        assert sorted(results) == ["local: n0 ", "local: n1 ", "local: n2 "]
        assert held.last("fake").max_active == 3


def test_client_disconnect_cancels_the_generation_and_frees_the_slot():
    endless = FakeLoader({"fake": lambda: FakeLocal(
        name="fake", max_sequences=1, answer=lambda text: "word " * 100_000)})
    app, service = fake_app(endless, queue=0)
    with LiveServer(app) as srv:
        body = {"model": "fake", "messages": HI, "stream": True, "max_tokens": None}
        for _ in range(3):  # one slot, no queue: each needs the previous one cancelled
            assert _eventually(lambda: _idle(service))
            assert len(_stream_lines(srv.url, body, 4)) == 4
        assert _eventually(lambda: _idle(service))
        stream = endless.last("fake").streams
        assert len(stream) == 3 and all(s.closed for s in stream)
        assert all(s.i < 100_000 for s in stream)  # cut short, not run to the end
        r = httpx.post(srv.url + "/v1/chat/completions", timeout=30,
                       json={"model": "fake", "messages": HI, "max_tokens": 2})
        assert r.status_code == 200


def _idle(service) -> bool:
    model = service.registry.get_loaded("fake")
    return model is None or (model.waiting == 0 and model.running == 0 and model.active == 0)


# ---- a routed engine behind the HTTP layer ----------------------------------------------------
@pytest.fixture(scope="module")
def upstream():
    from helpers.upstream import Upstream

    server = Upstream()
    yield server
    server.stop()


def test_routing_decision_reaches_the_response_and_the_access_log(upstream, caplog):
    import logging

    from slmkit.guard import Guard
    from slmkit.route import PriceTable, RouteConfig, RoutedEngine
    from slmkit.runtime.remote import RemoteEngine

    def routed():
        remote = RemoteEngine(upstream.url, model="big-model", timeout=30)
        return RoutedEngine(FakeLocal(), remote, guard=Guard(),
                            config=RouteConfig(judge_tokens=2),
                            prices=PriceTable.load(extra={"big-model": (5.0, 15.0)}))

    upstream.reset()
    app, _ = fake_app(FakeLoader({"auto": routed}))
    with TestClient(app, base_url=LOOPBACK) as c, caplog.at_level(logging.INFO, logger="slmkit.access"):
        easy = c.post("/v1/chat/completions", json={"model": "auto", "messages": HI}).json()
        hard = c.post("/v1/chat/completions", json={
            "model": "auto", "messages": [{"role": "user", "content": "a hard one"}]}).json()
    assert easy["usage"]["slm_route"]["route"] == "local"
    assert easy["choices"][0]["message"]["content"] == "local: hello there "
    assert hard["usage"]["slm_route"]["route"] == "remote"  # low confidence escalates
    assert hard["choices"][0]["message"]["content"] == "You said: a hard one"
    assert len(upstream.recording.requests) == 1
    logged = [json.loads(r.getMessage()) for r in caplog.records if r.name == "slmkit.access"]
    assert [x["route"] for x in logged] == ["local", "remote"]
    assert logged[1]["route_reason"] == hard["usage"]["slm_route"]["reason"]
