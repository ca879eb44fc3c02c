"""Bad requests get clear 4xx answers and never hurt the server; disconnects free the slot."""

from __future__ import annotations

import json
import socket
import time

import httpx
import pytest

from serve.conftest import CTX, MAX_BODY

pytestmark = pytest.mark.integration

HI = [{"role": "user", "content": "Hi"}]


@pytest.fixture(autouse=True)
def still_healthy(http, model_name):
    """After every test here the server answers /health and serves a tiny request."""
    yield
    assert http.get("/health").json() == {"status": "ok"}
    r = http.post("/v1/chat/completions", json={"model": model_name, "messages": HI,
                                                "max_tokens": 2})
    assert r.status_code == 200, r.text


def _error(r) -> dict:
    return r.json()["error"]


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/completions", "/api/chat",
                                  "/api/generate", "/v1/embeddings"])
def test_malformed_json_is_400_with_message(http, path):
    r = http.post(path, content=b'{"model": "x", "messages": [', headers={
        "content-type": "application/json"})
    assert r.status_code == 400
    body = r.json()["error"]
    message = body if isinstance(body, str) else body["message"]
    assert "not valid JSON" in message


def test_missing_and_wrong_fields_are_400(http, model_name):
    r = http.post("/v1/chat/completions", json={"model": model_name})
    assert r.status_code == 400 and "messages" in _error(r)["message"]
    r = http.post("/v1/chat/completions", json={"model": model_name, "messages": HI,
                                                "temperature": "hot"})
    assert r.status_code == 400 and "temperature" in _error(r)["message"]
    r = http.post("/v1/chat/completions", json={"model": model_name, "messages": HI, "n": 3})
    assert r.status_code == 400
    r = http.post("/v1/chat/completions", json={"model": model_name, "messages": HI,
                                                "tool_choice": "required"})
    assert r.status_code == 400 and "tools" in _error(r)["message"]


def test_unknown_model_is_404_naming_close_names(http, model_name):
    r = http.post("/v1/chat/completions", json={"model": "smollm2-135m-instrut",
                                                "messages": HI})
    assert r.status_code == 404
    err = _error(r)
    assert err["code"] == "model_not_found" and model_name in err["message"]
    r = http.post("/api/chat", json={"model": "smollm2-135m-instrut", "messages": HI})
    assert r.status_code == 404 and model_name in r.json()["error"]


def test_paths_are_not_model_names(http):
    r = http.post("/v1/completions", json={"model": "/etc/passwd", "prompt": "x"})
    assert r.status_code == 404


def test_prompt_over_context_is_400_naming_both_numbers(http, model_name):
    prompt = "word " * 1500
    r = http.post("/v1/completions", json={"model": model_name, "prompt": prompt})
    assert r.status_code == 400
    err = _error(r)
    assert err["code"] == "context_overflow"
    assert str(CTX) in err["message"] and "1501" in err["message"]
    r = http.post("/api/chat", json={"model": model_name, "messages": [
        {"role": "user", "content": prompt}]})
    assert r.status_code == 400 and str(CTX) in r.json()["error"]


def test_body_too_large_is_413(http, model_name):
    big = "x" * (MAX_BODY + 10)
    r = http.post("/v1/completions", json={"model": model_name, "prompt": big})
    assert r.status_code == 413 and "at most" in _error(r)["message"]

    def chunks():
        for _ in range(MAX_BODY // 1000 + 2):
            yield b" " * 1000

    r = http.post("/v1/completions", content=chunks(),
                  headers={"content-type": "application/json"})
    assert r.status_code == 413


def test_unsupported_schema_is_400(http, model_name):
    r = http.post("/v1/chat/completions", json={
        "model": model_name, "messages": HI, "response_format": {
            "type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "nonsense"}}}})
    assert 400 <= r.status_code < 500, r.text


def test_unknown_route_and_method(http):
    assert http.get("/v1/nothing").status_code == 404
    assert http.get("/v1/chat/completions").status_code == 405


def test_garbage_on_the_socket_is_answered_400_and_closed(server):
    host, port = "127.0.0.1", server.port
    with socket.create_connection((host, port), timeout=30) as s:
        s.sendall(b"NOT HTTP AT ALL\r\n\r\n")
        reply = b""
        while chunk := s.recv(4096):  # the server closes the connection
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 400 "), reply[:200]


def test_disconnect_mid_stream_frees_the_slot(server, http, model_name):
    # Five abandoned streams of up to a full context each: more than the 4 slots, and
    # minutes of decoding if they were not cancelled.
    body = {"model": model_name, "max_tokens": 4000, "stream": True, "temperature": 1.0,
            "messages": [{"role": "user", "content": "Write a very long story about a dragon."}]}
    cancelled = _counter(http.get("/metrics").text, "slm_generations_total",
                         f'finish_reason="cancelled",model="{model_name}"')
    for _ in range(5):
        with httpx.Client(base_url=server.url, timeout=60) as c, \
                c.stream("POST", "/v1/chat/completions", json=body) as r:
            assert r.status_code == 200
            lines = r.iter_lines()
            got = [next(lines) for _ in range(6)]
            assert any(line.startswith("data: {") for line in got)
        # leaving the block closes the connection mid-stream
    r = http.post("/v1/chat/completions", json={"model": model_name, "messages": HI,
                                                "max_tokens": 4})
    assert r.status_code == 200
    _wait_idle(http, model_name)
    # each abandoned stream ended as cancelled, not by running on to its 4000 tokens
    after = _counter(http.get("/metrics").text, "slm_generations_total",
                     f'finish_reason="cancelled",model="{model_name}"')
    assert after - cancelled == 5


def _counter(text: str, name: str, labels: str) -> float:
    for line in text.splitlines():
        if line.startswith(f"{name}{{{labels}}}"):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def _wait_idle(http, model_name, timeout=120.0):  # a hang guard
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = http.get("/metrics").text
        busy = _gauge(text, "slm_busy_slots", model_name)
        queued = _gauge(text, "slm_queue_depth", model_name)
        if busy == 0 and queued == 0:
            return
        time.sleep(0.2)
    raise AssertionError(f"slots still busy after disconnects: {busy} busy, {queued} queued")


def _gauge(text: str, name: str, model: str) -> float:
    for line in text.splitlines():
        if line.startswith(f'{name}{{model="{model}"}}'):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_stream_request_is_validated_before_streaming(http, model_name):
    r = http.post("/v1/chat/completions", json={"model": model_name, "messages": HI,
                                                "stream": True, "logprobs": True,
                                                "top_logprobs": 99})
    assert r.status_code == 400  # validated before the stream starts


def test_metrics_expose_counters(http, model_name):
    http.post("/v1/chat/completions", json={"model": model_name, "messages": HI,
                                            "max_tokens": 3, "stream": True})
    text = http.get("/metrics").text
    for needle in ['slm_requests_total{method="POST",route="/v1/chat/completions",status="200"}',
                   f'slm_completion_tokens_total{{model="{model_name}"}}',
                   f'slm_prompt_tokens_total{{model="{model_name}"}}',
                   "slm_time_to_first_token_seconds_bucket",
                   "slm_inter_token_latency_seconds_bucket",
                   f'slm_queue_depth{{model="{model_name}"}}',
                   f'slm_busy_slots{{model="{model_name}"}}', "slm_loaded_models 1.0",
                   'status="404"', 'status="400"']:
        assert needle in text, needle


def test_access_log_has_one_json_line_per_request(server, http, model_name):
    def logged() -> list[dict]:
        return [json.loads(line) for line in server.stderr_path.read_text().splitlines()
                if line.startswith("{")]

    marker = "/v1/models/access-log-marker"
    n0 = len(logged())
    http.get(marker)
    http.post("/v1/completions", json={"model": model_name, "prompt": "Hi", "max_tokens": 2})
    deadline = time.monotonic() + 30  # lines are written as responses end; a hang guard
    while len(lines := logged()) < n0 + 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    marked = [x for x in lines if x["path"] == marker]
    assert len(marked) == 1 and marked[0]["status"] == 404
    gen = [x for x in lines if x["path"] == "/v1/completions" and x["status"] == 200]
    assert gen and gen[-1]["model"] == model_name and gen[-1]["completion_tokens"] == 2
    assert "ttft_ms" in gen[-1] and gen[-1]["ms"] > 0
