"""Property-based fuzzing of every JSON route, OpenAI and Ollama alike (issue 13).

Bodies start from a valid request for the route; hypothesis then replaces, adds and removes
fields with arbitrary JSON (huge and negative numbers, NaN, deep nesting, odd strings, the
wrong types) and sometimes sends bytes that are not JSON at all. Whatever arrives, the server
must answer with a 2xx or a 4xx — never a 5xx, never a hang — and stay healthy afterwards.
60 cases per route run here; ``SLM_FUZZ_EXAMPLES=5000 pytest tests/serve/test_fuzz_http.py``
runs a long campaign.
"""

from __future__ import annotations

import json
import math
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from helpers.fake_engine import FakeLocal
from helpers.fake_server import FakeLoader, fake_app

LOOPBACK = "http://127.0.0.1:8000"
MSG = [{"role": "user", "content": "hello"}]

# route → a valid body; hypothesis mutates it.
ROUTES: dict[str, dict] = {
    "/v1/chat/completions": {"model": "fake", "messages": MSG, "max_tokens": 8},
    "/v1/completions": {"model": "fake", "prompt": "hello", "max_tokens": 8},
    "/v1/embeddings": {"model": "fake", "input": "hello"},
    "/api/chat": {"model": "fake", "messages": MSG, "stream": False,
                  "options": {"num_predict": 8}},
    "/api/generate": {"model": "fake", "prompt": "hello", "stream": False,
                      "options": {"num_predict": 8}},
    "/api/embed": {"model": "fake", "input": "hello"},
    "/api/embeddings": {"model": "fake", "prompt": "hello"},
    "/api/show": {"model": "fake"},
}

# Field names each route knows, so mutations hit real fields more often than random keys.
FIELDS = ["model", "messages", "prompt", "max_tokens", "max_completion_tokens", "temperature",
          "top_p", "top_k", "min_p", "repeat_penalty", "seed", "stop", "stream",
          "stream_options", "logprobs", "top_logprobs", "response_format", "tools",
          "tool_choice", "n", "input", "options", "format", "system", "raw", "keep_alive",
          "template", "num_predict", "repeat_last_n", "num_ctx", "encoding_format",
          "dimensions", "truncate", "suffix", "echo", "role", "content", "name"]

weird_numbers = st.one_of(
    st.integers(min_value=-(2**64), max_value=2**64),
    st.sampled_from([0, -1, 2**31, 2**31 - 1, 2**63, -(2**63), 10**30]),
    st.floats(allow_nan=True, allow_infinity=True),
)
weird_text = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["", " ", "\x00", "<|im_start|>system", "{{ 7*7 }}", "../../etc/passwd",
                     "fake\n", "a" * 5000, "🙂" * 50, "%s%n", "\ud800".encode(
                         "utf-8", "surrogatepass").decode("utf-8", "replace")]),
)
scalars = st.one_of(st.none(), st.booleans(), weird_numbers, weird_text)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.one_of(st.sampled_from(FIELDS), st.text(max_size=8)),
                                            inner, max_size=4)),
    max_leaves=12,
)


@st.composite
def bodies(draw, base: dict) -> bytes:
    """A mutated body for a route, as bytes (sometimes not JSON at all)."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.binary(max_size=64))
    body = json.loads(json.dumps(base))
    for _ in range(draw(st.integers(1, 4))):
        action = draw(st.sampled_from(["set", "set", "drop", "nest"]))
        key = draw(st.sampled_from(FIELDS))
        if action == "drop":
            body.pop(key, None)
        elif action == "nest" and isinstance(body.get("options"), dict):
            body["options"][draw(st.sampled_from(FIELDS))] = draw(json_values)
        else:
            body[key] = draw(json_values)
    if draw(st.booleans()):
        body = draw(st.sampled_from([body, [body], "x", None]))
    return json.dumps(body, allow_nan=True).encode()


@pytest.fixture(scope="module")
def client():
    loader = FakeLoader({"fake": lambda: FakeLocal(name="fake", grammar=True)})
    app, _ = fake_app(loader, max_body_bytes=64 * 1024)
    with TestClient(app, base_url=LOOPBACK, raise_server_exceptions=False) as c:
        yield c


def _post(client, route: str, raw: bytes):
    return client.post(route, content=raw, headers={"Content-Type": "application/json"})


@pytest.mark.parametrize("route", sorted(ROUTES))
def test_fuzzed_bodies_never_get_a_5xx(client, route):
    seen: dict[int, int] = {}

    @settings(max_examples=int(os.environ.get("SLM_FUZZ_EXAMPLES", "60")), deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.function_scoped_fixture,
                                     HealthCheck.too_slow])
    @given(raw=bodies(ROUTES[route]))
    def check(raw: bytes) -> None:
        r = _post(client, route, raw)
        seen[r.status_code] = seen.get(r.status_code, 0) + 1
        assert r.status_code < 500, f"{route} answered {r.status_code} to {raw[:300]!r}: " \
                                    f"{r.text[:300]}"
        if r.status_code >= 400:  # every refusal says what was wrong, as JSON
            assert r.headers["content-type"].startswith("application/json"), r.text[:200]

    check()
    assert client.get("/health").status_code == 200
    # The valid base body still works after the campaign: nothing was left broken.
    ok = _post(client, route, json.dumps(ROUTES[route]).encode())
    assert ok.status_code == 200, ok.text[:300]
    assert any(400 <= code < 500 for code in seen), f"no mutation was refused: {seen}"


def test_nan_and_huge_numbers_are_refused_not_crashed(client):
    for value in (math.nan, math.inf, 2**64, -(2**63)):
        body = dict(ROUTES["/v1/chat/completions"], temperature=value)
        r = _post(client, "/v1/chat/completions", json.dumps(body, allow_nan=True).encode())
        assert 400 <= r.status_code < 500, (value, r.status_code, r.text[:200])
