"""Ollama routes on a real server: NDJSON streaming, listing, embeddings, load/unload."""

from __future__ import annotations

import json

import httpx
import pytest

pytestmark = pytest.mark.integration

FRANCE = [{"role": "user", "content": "What is the capital of France?"}]


def _ndjson(http, path, body):
    with http.stream("POST", path, json=body) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("application/x-ndjson")
        return [json.loads(line) for line in r.iter_lines() if line.strip()]


def test_chat_streams_ndjson(http, model_name):
    lines = _ndjson(http, "/api/chat", {"model": model_name, "messages": FRANCE,
                                        "options": {"temperature": 0, "num_predict": 12}})
    assert len(lines) >= 2 and all(not x["done"] for x in lines[:-1])
    last = lines[-1]
    assert last["done"] and last["done_reason"] in ("stop", "length")
    assert last["eval_count"] > 0 and last["prompt_eval_count"] > 5
    text = "".join(x["message"]["content"] for x in lines)
    assert "Paris" in text


def test_generate_non_streaming(http, model_name):
    r = http.post("/api/generate", json={"model": model_name, "prompt": "Why is the sky blue?",
                                         "stream": False, "options": {"num_predict": 8,
                                                                      "temperature": 0}})
    body = r.json()
    assert r.status_code == 200 and body["done"] and body["response"]
    assert body["eval_count"] == 8 and body["done_reason"] == "length"
    assert body["total_duration"] > 0


def test_generate_raw_streams(http, model_name):
    lines = _ndjson(http, "/api/generate", {"model": model_name, "prompt": "Once upon a time",
                                            "raw": True, "options": {"num_predict": 5,
                                                                     "temperature": 0}})
    assert lines[-1]["done"] and lines[-1]["eval_count"] == 5


def test_chat_format_schema(http, model_name):
    schema = {"type": "object", "properties": {"city": {"type": "string", "maxLength": 20}},
              "required": ["city"], "additionalProperties": False}
    r = http.post("/api/chat", json={"model": model_name, "messages": FRANCE, "stream": False,
                                     "format": schema, "options": {"num_predict": 40}})
    assert set(json.loads(r.json()["message"]["content"])) == {"city"}


def test_chat_tools(coder_server):
    # "auto" lets the model answer in text: the coder model (tools in its template) calls
    model_name = "qwen2.5-coder-0.5b-instruct"
    http = httpx.Client(base_url=coder_server.url, timeout=300)
    tool = {"type": "function", "function": {
        "name": "get_time", "description": "Current time in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string",
                                                                  "maxLength": 20}},
                       "required": ["city"], "additionalProperties": False}}}
    r = http.post("/api/chat", json={
        "model": model_name, "stream": False, "tools": [tool], "options": {"temperature": 0,
                                                                            "num_predict": 48},
        "messages": [{"role": "user", "content": "What time is it in Tokyo?"}]})
    msg = r.json()["message"]
    # greedy: the question fits the tool, so it is called
    assert msg["tool_calls"] == [{"function": {"name": "get_time",
                                               "arguments": {"city": "Tokyo"}}}]
    assert msg["content"] == "" and r.json()["done_reason"] == "stop"


def test_tags_show_ps(http, model_name):
    tags = http.get("/api/tags").json()["models"]
    entry = next(m for m in tags if m["name"] == model_name)
    assert entry["details"]["quantization_level"] == "Q4_1" and entry["size"] > 0
    show = http.post("/api/show", json={"model": model_name}).json()
    assert show["details"]["family"] == "llama" and "im_start" in show["template"]
    assert show["model_info"]["general.architecture"] == "llama"
    assert "temperature" in show["parameters"]
    ps = http.get("/api/ps").json()["models"]
    assert [m["name"] for m in ps] == [model_name] and ps[0]["context_length"] == 1024


def test_embed_and_legacy_embeddings(http, model_name):
    r = http.post("/api/embed", json={"model": model_name, "input": ["a cat", "a dog"]}).json()
    assert len(r["embeddings"]) == 2 and len(r["embeddings"][0]) == 576
    legacy = http.post("/api/embeddings", json={"model": model_name, "prompt": "a cat"}).json()
    assert legacy["embedding"] == pytest.approx(r["embeddings"][0], abs=1e-4)


def test_keep_alive_zero_does_not_unload_a_model_named_at_start(http, model_name):
    """Models named on the command line are pinned: a client cannot unload them (issue 13;
    on-demand models still unload, see tests/serve/test_security_low.py)."""
    r = http.post("/api/generate", json={"model": model_name, "keep_alive": 0})
    assert r.json()["done_reason"] == "load"
    assert [m["name"] for m in http.get("/api/ps").json()["models"]] == [model_name]
    r = http.post("/api/generate", json={"model": model_name, "prompt": "Hi", "stream": False,
                                         "options": {"num_predict": 2}, "keep_alive": 0})
    assert r.status_code == 200 and r.json()["done"]
    assert [m["name"] for m in http.get("/api/ps").json()["models"]] == [model_name]


def test_official_ollama_client(server, model_name):
    ollama = pytest.importorskip("ollama")
    c = ollama.Client(host=server.url)
    r = c.chat(model=model_name, messages=FRANCE, options={"num_predict": 8, "temperature": 0})
    assert r.message.content and r.done
    parts = list(c.generate(model=model_name, prompt="Hello", stream=True,
                            options={"num_predict": 4}))
    assert parts[-1].done and sum(1 for p in parts if p.response) >= 1
    assert model_name in [m.model for m in c.list().models]
    assert len(c.embed(model=model_name, input="hi").embeddings[0]) == 576
