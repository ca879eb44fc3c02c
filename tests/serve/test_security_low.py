"""The low-severity findings of issue 13 that serve/ fixes: ``/ready`` details without a key,
absolute server paths in RAG answers, clients unloading pinned models with
``keep_alive: 0``, and name patterns that accepted a trailing newline."""

from __future__ import annotations

import pytest

from helpers.fake_engine import FakeLocal
from helpers.serve_app import FakeCollections, app_client
from slmkit.core.retrieval import Passage
from slmkit.serve.auth import ApiKeys

KEY = "a-long-enough-test-key-0123"


# ---- /ready --------------------------------------------------------------------------------
def test_ready_without_a_key_says_only_ready_when_keys_are_configured():
    client = app_client(api_keys=ApiKeys([KEY]))
    try:
        registry = client.app.state.service.registry
        registry.release(registry.acquire("fake-local", pinned=True))
        r = client.get("/ready")
        assert r.status_code == 200 and r.json() == {"status": "ready"}
        r = client.get("/ready", headers={"Authorization": f"Bearer {KEY}"})
        assert r.json() == {"status": "ready", "models": ["fake-local"]}
        assert client.get("/health").status_code == 200
    finally:
        client.__exit__(None, None, None)


def test_ready_load_errors_are_hidden_without_a_key():
    def preload():
        raise RuntimeError("cannot open /srv/secret/models/x.gguf")

    client = app_client(api_keys=ApiKeys([KEY]), preload=preload)
    try:
        import time

        for _ in range(100):
            r = client.get("/ready")
            if r.json()["status"] == "failed":
                break
            time.sleep(0.02)
        assert r.status_code == 503 and r.json() == {"status": "failed", "error": None}
        r = client.get("/ready", headers={"X-API-Key": KEY})
        assert "/srv/secret" in r.json()["error"]
    finally:
        client.__exit__(None, None, None)


def test_ready_keeps_details_on_a_keyless_loopback_server():
    client = app_client()
    try:
        assert client.get("/ready").json() == {"status": "ready", "models": []}
    finally:
        client.__exit__(None, None, None)


# ---- RAG paths -----------------------------------------------------------------------------
class PathCollections(FakeCollections):
    def list(self):
        return [{"name": "docs", "path": "/home/alice/.slmkit/rag/docs.db", "documents": 1,
                 "chunks": 1}]

    def query(self, name, query, *, k=5, mode="hybrid", filters=None):
        return [Passage(1, "text", "/home/alice/private/notes/plan.md", 1.0, line_start=3,
                        line_end=4),
                Passage(2, "text", "uploaded/by-client.md", 0.5)]


def test_rag_answers_carry_no_absolute_server_paths():
    client = app_client(rag=PathCollections())
    try:
        listing = client.get("/v1/rag/collections")
        assert "/home/alice" not in listing.text and listing.json()["data"][0]["name"] == "docs"
        r = client.post("/v1/rag/docs/query", json={"query": "plan"})
        assert r.status_code == 200 and "/home/alice" not in r.text
        data = r.json()["data"]
        assert [d["source"] for d in data] == ["plan.md", "uploaded/by-client.md"]
        assert data[0]["locator"] == "plan.md:3-4"
    finally:
        client.__exit__(None, None, None)


# ---- keep_alive and pinned models -----------------------------------------------------------
def test_clients_cannot_unload_or_unpin_a_pinned_model():
    engine = FakeLocal()
    client = app_client(engine)
    try:
        registry = client.app.state.service.registry
        registry.release(registry.acquire("fake-local", pinned=True))
        for keep_alive in (0, "0s", 5):
            r = client.post("/api/generate", json={"model": "fake-local",
                                                   "keep_alive": keep_alive})
            assert r.status_code == 200 and r.json()["done_reason"] == "load"
        r = client.post("/api/chat", json={"model": "fake-local", "stream": False,
                                           "messages": [{"role": "user", "content": "x"}],
                                           "keep_alive": 0})
        assert r.status_code == 200
        assert [m.name for m in registry.loaded()] == ["fake-local"] and not engine.closed
        assert registry.loaded()[0].pinned and registry.reap(now=1e12) == []
    finally:
        client.__exit__(None, None, None)


def test_keep_alive_zero_still_unloads_a_model_loaded_on_demand():
    engine = FakeLocal()
    client = app_client(engine)
    try:
        r = client.post("/api/generate", json={"model": "fake-local", "keep_alive": 0})
        assert r.json()["done_reason"] == "unload" and engine.closed
    finally:
        client.__exit__(None, None, None)


def test_client_keep_alive_forever_does_not_pin_against_memory_pressure():
    import math

    from slmkit.serve.registry import Registry
    from serve.test_serve_units import GB, StubLoader

    reg = Registry(StubLoader({"a": 3 * GB, "b": 3 * GB}), memory_budget=5 * GB)
    a = reg.acquire("a")
    reg.release(a, keep_alive=math.inf)  # a client's keep_alive: -1
    assert reg.reap(now=1e12) == []  # never expires …
    reg.release(reg.acquire("b"))  # … but gives way when the memory is needed
    assert [m.name for m in reg.loaded()] == ["b"] and a.engine.closed


# ---- names with a trailing newline ------------------------------------------------------------
def test_names_with_a_trailing_newline_are_refused(tmp_path):
    from slmkit.models.store import validate_name
    from slmkit.rag.store import check_name, collection_path

    for bad in ("notes\n", "notes\r\n", "notes\nx"):
        with pytest.raises(ValueError):
            check_name(bad)
        with pytest.raises(ValueError):
            collection_path(bad, tmp_path)
        with pytest.raises(ValueError):
            validate_name(bad.lower())
    check_name("notes")
    validate_name("smollm2-135m-instruct")


def test_tool_names_with_a_trailing_newline_are_refused():
    client = app_client()
    try:
        tool = {"type": "function", "function": {"name": "f\n", "parameters": {}}}
        r = client.post("/v1/chat/completions", json={
            "model": "fake-local", "messages": [{"role": "user", "content": "x"}],
            "tools": [tool]})
        assert r.status_code == 400, r.text
    finally:
        client.__exit__(None, None, None)
