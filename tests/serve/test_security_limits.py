"""Unbounded sampler and grammar parameters (issue 13, high) and Ollama's unbounded
``options.stop`` (medium).

``options.repeat_last_n = 2**31`` made llama.cpp allocate an 8 GiB ring buffer, and a
JSON schema's ``maxLength``/``maxItems`` made the GBNF converter build a list of that many
items. Every numeric field is now bounded (400 naming the field and the limit) or clamped
to the model's context, and the compiled grammar is bounded in size.
"""

from __future__ import annotations

import resource
import time

import httpx
import pytest

from helpers.fake_engine import FakeLocal
from helpers.serve_app import app_client

HI = [{"role": "user", "content": "hi"}]
OLLAMA = {"model": "fake-local", "messages": HI, "stream": False}
OPENAI = {"model": "fake-local", "messages": HI}


@pytest.fixture
def fake():
    engine = FakeLocal(n_ctx=512)
    client = app_client(engine)
    yield client, engine
    client.__exit__(None, None, None)


def _message(r) -> str:
    err = r.json()["error"]
    return err if isinstance(err, str) else err["message"]


@pytest.mark.parametrize(("field", "value", "limit"), [
    ("repeat_last_n", 2**31, "1048576"), ("num_ctx", 2**31, "1048576"),
    ("num_predict", 2**40, "1048576"), ("top_k", 2**40, "1048576"),
    ("seed", 2**70, "18446744073709551615"), ("repeat_penalty", 1e30, "100"),
    ("repeat_last_n", -5, "-1"),
])
def test_ollama_options_over_their_bounds_are_400_naming_field_and_limit(fake, field, value,
                                                                         limit):
    client, engine = fake
    r = client.post("/api/chat", json=dict(OLLAMA, options={field: value}))
    assert r.status_code == 400, r.text
    assert f"options.{field}" in _message(r) and limit in _message(r)
    assert engine.requests == []


@pytest.mark.parametrize(("field", "value"), [
    ("max_tokens", 2**40), ("max_completion_tokens", 2**40), ("top_k", 2**40),
    ("seed", -(2**70)), ("repeat_penalty", 1e300),
])
def test_openai_fields_over_their_bounds_are_400(fake, field, value):
    client, engine = fake
    r = client.post("/v1/chat/completions", json=dict(OPENAI, **{field: value}))
    assert r.status_code == 400, r.text
    assert field in _message(r)
    assert engine.requests == []


def test_nan_and_infinity_are_refused(fake):
    client, _ = fake
    for body in (b'{"model": "fake-local", "messages": [{"role": "user", "content": "x"}], '
                 b'"temperature": NaN}',
                 b'{"model": "fake-local", "prompt": "x", "stream": false, '
                 b'"options": {"top_p": Infinity}}'):
        path = "/v1/chat/completions" if b"messages" in body else "/api/generate"
        r = client.post(path, content=body, headers={"content-type": "application/json"})
        assert r.status_code == 400, r.text


def test_completion_token_ids_are_bounded(fake):
    client, _ = fake
    for ids in ([-1], [2**40]):
        r = client.post("/v1/completions", json={"model": "fake-local", "prompt": ids})
        assert r.status_code == 400, r.text


def test_repeat_last_n_is_clamped_to_the_context(fake):
    client, engine = fake
    for given, used in ((-1, 512), (100_000, 512), (64, 64)):
        r = client.post("/api/chat", json=dict(OLLAMA, options={"repeat_last_n": given}))
        assert r.status_code == 200, r.text
        assert engine.requests[-1].sampling.repeat_last_n == used


def test_large_seeds_are_reduced_to_32_bits(fake):
    client, engine = fake
    r = client.post("/v1/chat/completions", json=dict(OPENAI, seed=2**40 + 7))
    assert r.status_code == 200 and engine.requests[-1].sampling.seed == 7


def test_ollama_stop_is_capped_like_openai(fake):
    client, engine = fake
    r = client.post("/api/chat", json=dict(OLLAMA, options={"stop": ["x"] * 17}))
    assert r.status_code == 400 and "at most 16" in _message(r)
    r = client.post("/api/chat", json=dict(OLLAMA, options={"stop": ["x" * 1001]}))
    assert r.status_code == 400 and "1000 characters" in _message(r)
    r = client.post("/api/chat", json=dict(OLLAMA, options={"stop": [""]}))
    assert r.status_code == 400
    r = client.post("/v1/chat/completions", json=dict(OPENAI, stop=["x"] * 17))
    assert r.status_code == 400 and "at most 16" in _message(r)
    assert engine.requests == []
    r = client.post("/api/chat", json=dict(OLLAMA, options={"stop": ["a", "b"]}))
    assert r.status_code == 200 and tuple(engine.requests[-1].stop) == ("a", "b")


# ---- JSON schemas → grammars (llama.cpp backend; no model needed) ---------------------------
HUGE = 2**31


@pytest.mark.parametrize("schema", [
    {"type": "string", "maxLength": HUGE},
    {"type": "string", "minLength": HUGE},
    {"type": "array", "items": {"type": "integer"}, "maxItems": HUGE},
    {"type": "array", "items": {"type": "integer"}, "minItems": HUGE},
    {"type": "object", "properties": {"a": {"type": "array", "items": {
        "type": "string", "maxLength": HUGE}}}},
    {"type": "string", "pattern": "^a{2147483647}$"},
    {"type": "string", "maxLength": 1.5},
])
def test_huge_schema_repetitions_are_refused_before_compiling(schema):
    from slmkit.runtime.llamacpp.grammar import GrammarError, schema_to_gbnf

    t0, rss0 = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(GrammarError, match=r"\$"):
        schema_to_gbnf(schema)
    assert time.perf_counter() - t0 < 5  # hang guard: building the repetition would take minutes
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0 < 50_000  # KiB


def test_grammar_size_is_bounded_and_normal_schemas_compile():
    from slmkit.runtime.llamacpp.grammar import MAX_GRAMMAR_BYTES, GrammarError, schema_to_gbnf

    assert "root ::=" in schema_to_gbnf({"type": "string", "maxLength": 1000})
    wide = {"type": "object", "properties": {f"p{i}": {"type": "string", "maxLength": 1000}
                                             for i in range(40)}}
    with pytest.raises(GrammarError, match=f"{MAX_GRAMMAR_BYTES:,}"):
        schema_to_gbnf(wide)
    deep: dict = {"type": "string"}
    for _ in range(100):
        deep = {"type": "array", "items": deep}
    with pytest.raises(GrammarError, match="deeper"):
        schema_to_gbnf(deep)


# ---- the real engine and server -------------------------------------------------------------
@pytest.mark.integration
def test_real_engine_clamps_repeat_last_n_without_allocating(engine):
    """2**31 used to reach llama_sampler_init_penalties (an 8 GiB ring buffer)."""
    from slmkit.core.types import ChatMessage, GenerateRequest, SamplingParams

    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    req = GenerateRequest(messages=[ChatMessage("user", "Say hi")], max_tokens=4,
                          sampling=SamplingParams(temperature=0.0, repeat_penalty=1.3,
                                                  repeat_last_n=2**31))
    chunks = list(engine.generate(req))
    assert chunks[-1].finish_reason in ("stop", "length")
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0 < 200_000  # KiB


@pytest.mark.integration
def test_real_server_refuses_huge_parameters_and_schemas(server, model_name):
    url = server.url
    r = httpx.post(url + "/api/chat", timeout=60, json={
        "model": model_name, "messages": HI, "stream": False,
        "options": {"repeat_last_n": 2**31, "repeat_penalty": 1.2}})
    assert r.status_code == 400 and "repeat_last_n" in r.json()["error"]
    r = httpx.post(url + "/api/chat", timeout=60, json={
        "model": model_name, "messages": HI, "stream": False,
        "options": {"repeat_last_n": -1, "repeat_penalty": 1.2, "num_predict": 2}})
    assert r.status_code == 200, r.text
    t0 = time.perf_counter()
    r = httpx.post(url + "/v1/chat/completions", timeout=60, json={
        "model": model_name, "messages": HI, "response_format": {
            "type": "json_schema", "json_schema": {"name": "x", "schema": {
                "type": "object", "properties": {"s": {"type": "string",
                                                       "maxLength": 2**31}}}}}})
    assert r.status_code == 400 and "maxLength" in r.json()["error"]["message"], r.text
    r = httpx.post(url + "/api/generate", timeout=60, json={
        "model": model_name, "prompt": "x", "stream": False,
        "format": {"type": "array", "items": {"type": "string"}, "maxItems": 10**9}})
    assert r.status_code == 400 and "maxItems" in r.json()["error"], r.text
    assert time.perf_counter() - t0 < 10
    assert httpx.get(url + "/health").status_code == 200
