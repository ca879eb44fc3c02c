"""CSRF and DNS rebinding against the keyless loopback default (issue 13, high).

A web page could send a CORS "simple" ``text/plain`` POST to
``http://127.0.0.1:8000/v1/rag/NAME/ingest`` (poisoning a collection) and, through DNS
rebinding (``Host: evil.example``), read the answers. The real app over a fake engine
here; the same checks against a real ``slm serve`` at the end.
"""

from __future__ import annotations

import httpx
import pytest

from helpers.fake_engine import FakeLocal
from helpers.serve_app import FakeCollections, app_client

CHAT = {"model": "fake-local", "messages": [{"role": "user", "content": "hi"}]}
INGEST = {"documents": [{"name": "evil.md", "text": "The admin password is hunter2."}]}
EVIL_PAGE = "http://evil.example"


@pytest.fixture
def parts():
    engine, rag = FakeLocal(), FakeCollections()
    client = app_client(engine, rag=rag)
    yield client, engine, rag
    client.__exit__(None, None, None)


@pytest.mark.parametrize("ctype", ["text/plain", "text/plain;charset=UTF-8",
                                   "application/x-www-form-urlencoded", "multipart/form-data"])
def test_simple_cross_origin_posts_are_refused(parts, ctype):
    client, engine, rag = parts
    import json

    for path, body in (("/v1/rag/notes/ingest", INGEST), ("/v1/chat/completions", CHAT),
                       ("/api/chat", dict(CHAT, stream=False))):
        r = client.post(path, content=json.dumps(body), headers={"content-type": ctype})
        assert r.status_code == 415, (path, r.text)
        text = r.text
        assert "application/json" in text
    # and the same from a page on another origin (what a browser sends)
    r = client.post("/v1/rag/notes/ingest", content=json.dumps(INGEST),
                    headers={"content-type": ctype, "origin": EVIL_PAGE})
    assert r.status_code in (403, 415)
    assert rag.ingested == [] and engine.requests == []


def test_json_requests_still_work(parts):
    client, engine, rag = parts
    r = client.post("/v1/chat/completions", json=CHAT)
    assert r.status_code == 200, r.text
    assert r.json()["choices"][0]["message"]["content"].startswith("local:")
    r = client.post("/v1/rag/notes/ingest", json=INGEST,
                    headers={"content-type": "application/json; charset=utf-8"})
    assert r.status_code == 200 and rag.ingested[0][0] == "notes"


def test_a_client_without_content_type_is_accepted_unless_it_is_a_browser(parts):
    client, engine, _ = parts
    import json

    body = json.dumps(dict(CHAT, stream=False)).encode()
    req = client.build_request("POST", "/api/chat", content=body)  # raw bytes: no type
    assert "content-type" not in req.headers
    r = client.send(req)
    assert r.status_code == 200, r.text
    req = client.build_request("POST", "/api/chat", content=body,
                               headers={"origin": EVIL_PAGE})
    assert client.send(req).status_code == 403
    req = client.build_request("POST", "/api/chat", content=body,
                               headers={"origin": "http://127.0.0.1:8000"})
    assert client.send(req).status_code == 415  # a browser must say application/json


def test_foreign_origins_are_refused_own_and_configured_ones_accepted():
    client = app_client(cors_origins=["http://app.example.test"])
    try:
        r = client.post("/v1/chat/completions", json=CHAT, headers={"origin": EVIL_PAGE})
        assert r.status_code == 403 and r.json()["error"]["code"] == "origin_not_allowed"
        assert "--cors-origin" in r.json()["error"]["hint"]
        r = client.post("/v1/chat/completions", json=CHAT, headers={"origin": "null"})
        assert r.status_code == 403
        for ok in ("http://app.example.test", "http://127.0.0.1:8000"):
            r = client.post("/v1/chat/completions", json=CHAT, headers={"origin": ok})
            assert r.status_code == 200, (ok, r.text)
    finally:
        client.__exit__(None, None, None)


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8000", "127.0.0.1.nip.io",
                                  "localhost.evil.example", "10.0.0.3:8000"])
def test_rebound_host_names_are_refused_on_loopback(parts, host):
    client, engine, rag = parts
    for method, path, body in (("GET", "/v1/models", None), ("GET", "/v1/rag/collections", None),
                               ("POST", "/v1/rag/notes/ingest", INGEST),
                               ("POST", "/v1/chat/completions", CHAT)):
        r = client.request(method, path, json=body, headers={"host": host})
        assert r.status_code == 403, (host, path, r.text)
        assert r.json()["error"]["code"] == "host_not_allowed"
    assert rag.ingested == [] and engine.requests == []


@pytest.mark.parametrize("host", ["127.0.0.1:8000", "localhost:8000", "LOCALHOST", "[::1]:8000",
                                  "localhost.:8000", "app.localhost:8000", "127.0.0.2"])
def test_loopback_host_names_are_accepted(parts, host):
    client, _, _ = parts
    assert client.get("/v1/models", headers={"host": host}).status_code == 200


def test_allowed_hosts_and_network_binds():
    cases = [  # (bind, allowed, host, accepted)
        ("127.0.0.1", ["my.box"], "my.box:8000", True),
        ("127.0.0.1", ["my.box"], "other.box", False),
        ("127.0.0.1", ["*"], "anything.example", True),
        ("0.0.0.0", [], "anything.example", True),  # keys guard a network bind
        ("0.0.0.0", ["llm.corp"], "llm.corp", True),
        ("0.0.0.0", ["llm.corp"], "evil.example", False),
        ("192.168.1.5", ["llm.corp"], "192.168.1.5:8000", True),
    ]
    for bind, allowed, host, accepted in cases:
        client = app_client(bind_host=bind, allowed_hosts=allowed)
        try:
            status = client.get("/v1/models", headers={"host": host}).status_code
        finally:
            client.__exit__(None, None, None)
        assert (status == 200) is accepted, (bind, allowed, host, status)


def test_health_is_answered_only_for_allowed_hosts_too(parts):
    client, _, _ = parts
    assert client.get("/health", headers={"host": "evil.example"}).status_code == 403
    assert client.get("/health").status_code == 200


def test_cli_has_allowed_host_flag():
    import argparse

    from slmkit.cli import serve as cli

    p = argparse.ArgumentParser()
    cli.configure(p)
    args = p.parse_args(["--allowed-host", "a.example", "--allowed-host", "b.example"])
    assert args.allowed_host == ["a.example", "b.example"]


# ---- a real `slm serve` --------------------------------------------------------------------
@pytest.mark.integration
def test_real_server_refuses_text_plain_and_rebinding(server, model_name, client):
    body = {"model": model_name, "messages": [{"role": "user", "content": "Hi"}],
            "max_tokens": 2}
    import json

    r = httpx.post(server.url + "/v1/chat/completions", content=json.dumps(body),
                   headers={"content-type": "text/plain", "origin": EVIL_PAGE}, timeout=60)
    assert r.status_code in (403, 415)
    r = httpx.post(server.url + "/v1/chat/completions", content=json.dumps(body),
                   headers={"content-type": "text/plain"}, timeout=60)
    assert r.status_code == 415
    r = httpx.post(server.url + "/v1/rag/poisoned/ingest", content=json.dumps(INGEST),
                   headers={"content-type": "text/plain"}, timeout=60)
    assert r.status_code == 415
    r = httpx.get(server.url + "/v1/models", headers={"host": "evil.example"})
    assert r.status_code == 403
    # the openai client (Content-Type: application/json, Host 127.0.0.1:PORT) still works
    out = client.chat.completions.create(model=model_name, max_tokens=2,
                                         messages=[{"role": "user", "content": "Hi"}])
    assert out.choices[0].message.content is not None
