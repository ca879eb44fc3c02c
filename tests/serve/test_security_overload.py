"""API keys, exposure rules and overload (429) on a server with one slot and a queue of one."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import httpx
import pytest

from serve.conftest import API_KEY, CORS_ORIGIN

pytestmark = pytest.mark.integration

HI = [{"role": "user", "content": "Hi"}]


def test_missing_or_wrong_key_is_401(keyed_server, model_name):
    body = {"model": model_name, "messages": HI, "max_tokens": 2}
    url = keyed_server.url + "/v1/chat/completions"
    r = httpx.post(url, json=body)
    assert r.status_code == 401 and r.json()["error"]["message"] == "missing API key"
    assert r.headers["www-authenticate"] == "Bearer"
    r = httpx.post(url, json=body, headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 401 and r.json()["error"]["message"] == "invalid API key"
    r = httpx.post(keyed_server.url + "/api/chat", json=body, headers={"X-API-Key": "nope"})
    assert r.status_code == 401 and "invalid API key" in r.json()["error"]
    assert httpx.get(keyed_server.url + "/metrics").status_code == 401
    r = httpx.post(url, json=body, headers={"X-API-Key": API_KEY}, timeout=60)
    assert r.status_code == 200


def test_openai_client_with_key(keyed_server, model_name):
    from openai import AuthenticationError, OpenAI

    good = OpenAI(base_url=keyed_server.url + "/v1", api_key=API_KEY, max_retries=0)
    r = good.chat.completions.create(model=model_name, messages=HI, max_tokens=3)
    assert r.choices[0].message.content is not None
    bad = OpenAI(base_url=keyed_server.url + "/v1", api_key="not-it", max_retries=0)
    with pytest.raises(AuthenticationError):
        bad.models.list()


def test_health_and_ready_need_no_key(keyed_server):
    assert httpx.get(keyed_server.url + "/health").status_code == 200
    assert httpx.get(keyed_server.url + "/ready").status_code == 200


def test_cors_only_for_configured_origins(keyed_server, server):
    pre = {"Origin": CORS_ORIGIN, "Access-Control-Request-Method": "POST",
           "Access-Control-Request-Headers": "authorization,content-type"}
    r = httpx.options(keyed_server.url + "/v1/chat/completions", headers=pre)
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == CORS_ORIGIN
    other = httpx.options(keyed_server.url + "/v1/chat/completions",
                          headers=dict(pre, Origin="http://evil.test"))
    assert "access-control-allow-origin" not in other.headers
    # the main server has no --cors-origin: no CORS headers at all
    r = httpx.get(server.url + "/v1/models", headers={"Origin": CORS_ORIGIN})
    assert r.status_code == 200 and "access-control-allow-origin" not in r.headers


def test_refuses_to_expose_without_a_key(tmp_path):
    env = dict(os.environ, SLM_HOME=str(tmp_path))
    env.pop("SLM_API_KEY", None)
    out = subprocess.run([sys.executable, "-m", "slmkit.cli.main", "serve", "--host", "0.0.0.0",
                          "--port", "9"], env=env, capture_output=True, text=True, timeout=60,
                         check=False)
    assert out.returncode != 0
    assert "refusing to bind 0.0.0.0" in out.stderr and "--api-key" in out.stderr


def test_overload_gets_429_with_retry_after_and_no_errors(keyed_server, model_name):
    body = {"model": model_name, "max_tokens": 48, "stream": False, "temperature": 1.0,
            "messages": [{"role": "user", "content": "Tell me a story."}]}

    async def fire():
        headers = {"Authorization": f"Bearer {API_KEY}"}
        async with httpx.AsyncClient(base_url=keyed_server.url, headers=headers,
                                     timeout=120) as c:
            return await asyncio.gather(*(c.post("/v1/chat/completions", json=body)
                                          for _ in range(6)))

    responses = asyncio.run(fire())
    codes = sorted(r.status_code for r in responses)
    assert set(codes) <= {200, 429}, codes
    # one slot + a queue of one: at most two are served; a burst can find the one queue
    # place taken by a request the scheduler has not moved into the slot yet
    assert 1 <= codes.count(200) <= 2 and codes.count(429) >= 4, codes
    for r in responses:
        if r.status_code == 429:
            assert int(r.headers["retry-after"]) >= 1
            assert r.json()["error"]["code"] == "queue_full"
    ok = httpx.post(keyed_server.url + "/v1/chat/completions", json=dict(body, max_tokens=2),
                    headers={"Authorization": f"Bearer {API_KEY}"}, timeout=60)
    assert ok.status_code == 200
