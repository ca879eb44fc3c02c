"""The shared apps mount (``/v1/apps/{name}``) through ``create_app`` with fake handlers:
lookup (sub-paths included), 404/400 shapes, the progress stream, auth, cancellation."""

from __future__ import annotations

import json
import threading

import pytest
from starlette.testclient import TestClient

from helpers.fake_server import fake_app, one_model
from slmkit.core.apps import AppCancelled, AppHandler
from slmkit.serve import routes_apps
from slmkit.serve.auth import ApiKeys

LOOPBACK = "http://127.0.0.1:8000"


class Echo:
    """Counts ``items`` with one progress event each; refuses a payload without them."""

    def __init__(self, name: str = "echo") -> None:
        self.name, self.calls, self.cancelled = name, [], threading.Event()

    def run(self, payload, progress=None):
        items = payload.get("items")
        if not isinstance(items, list):
            raise ValueError("items: required, a list of strings")
        self.calls.append(dict(payload))
        for i, item in enumerate(items, 1):
            if progress is not None:
                try:
                    progress({"done": i, "total": len(items), "item": item})
                except AppCancelled:
                    self.cancelled.set()
                    raise
        if payload.get("fail"):
            raise RuntimeError("boom")
        return {"app": self.name, "count": len(items), "upper": [s.upper() for s in items]}


def client_for(apps: dict, **kw) -> TestClient:
    app, _ = fake_app(one_model(), routers=[routes_apps.router], state={"apps": apps}, **kw)
    return TestClient(app, base_url=LOOPBACK)


def events(r) -> list[dict]:
    assert r.headers["content-type"].startswith("text/event-stream")
    return [json.loads(line[6:]) for line in r.text.splitlines() if line.startswith("data: ")]


def test_handler_protocol_and_plain_call():
    echo, detect = Echo(), Echo("logs/detect")
    assert isinstance(echo, AppHandler)
    with client_for({"echo": echo, "logs/detect": detect}) as c:
        r = c.post("/v1/apps/echo", json={"items": ["a", "b"]})
        assert r.status_code == 200 and r.json() == {"app": "echo", "count": 2,
                                                      "upper": ["A", "B"]}
        r = c.post("/v1/apps/logs/detect", json={"items": ["x"]})
        assert r.status_code == 200 and r.json()["app"] == "logs/detect"
        assert c.get("/v1/apps").json()["data"] == [{"name": "echo", "form": None},
                                                    {"name": "logs/detect", "form": None}]
    assert echo.calls == [{"items": ["a", "b"]}]


def test_unknown_app_and_bad_payloads_are_precise():
    with client_for({"echo": Echo()}) as c:
        r = c.post("/v1/apps/nope", json={})
        err = r.json()["error"]
        assert r.status_code == 404 and err["code"] == "app_not_found"
        assert "'nope'" in err["message"] and "echo" in err["hint"]
        r = c.post("/v1/apps/echo", json={"items": 3})
        assert r.status_code == 400 and r.json()["error"]["message"] == \
            "items: required, a list of strings"
        r = c.post("/v1/apps/echo", json=[1, 2])
        assert r.status_code == 400 and "JSON object" in r.json()["error"]["message"]
        r = c.post("/v1/apps/echo", content=b"{not json",
                   headers={"content-type": "application/json"})
        assert r.status_code == 400 and "not valid JSON" in r.json()["error"]["message"]
        r = c.post("/v1/apps/echo", json={"items": [], "stream": "yes"})
        assert r.status_code == 400 and "stream" in r.json()["error"]["message"]


def test_no_apps_configured_is_404():
    app, _ = fake_app(one_model(), routers=[routes_apps.router])
    with TestClient(app, base_url=LOOPBACK) as c:
        assert c.post("/v1/apps/echo", json={}).status_code == 404
        assert c.get("/v1/apps").json()["data"] == []


def test_stream_yields_progress_then_result_or_error():
    with client_for({"echo": Echo()}) as c:
        r = c.post("/v1/apps/echo", json={"items": ["a", "b", "c"], "stream": True})
        evs = events(r)
        assert [e["type"] for e in evs] == ["progress"] * 3 + ["result"]
        assert [e["done"] for e in evs[:3]] == [1, 2, 3] and evs[0]["total"] == 3
        assert evs[-1]["result"]["upper"] == ["A", "B", "C"]
        evs = events(c.post("/v1/apps/echo", json={"items": ["a"], "fail": True,
                                                    "stream": True}))
        assert evs[-1]["type"] == "error" and evs[-1]["error"]["code"] == "internal_error"
        evs = events(c.post("/v1/apps/echo", json={"stream": True}))
        assert evs == [{"type": "error", "error": evs[0]["error"]}]
        assert evs[0]["error"]["code"] == "invalid_request"


def test_same_auth_as_the_rest():
    with client_for({"echo": Echo()}, api_keys=ApiKeys(["k-1"])) as c:
        assert c.post("/v1/apps/echo", json={"items": []}).status_code == 401
        r = c.post("/v1/apps/echo", json={"items": []},
                   headers={"Authorization": "Bearer k-1"})
        assert r.status_code == 200 and r.json()["count"] == 0


def test_disconnect_cancels_at_next_progress():
    from slmkit.serve.routes_apps import _events

    started, release = threading.Event(), threading.Event()

    class Slow(Echo):
        def run(self, payload, progress=None):
            progress({"done": 0})
            started.set()
            release.wait(10)
            return super().run(payload, progress)

    slow = Slow()

    async def consume_one_then_close():
        gen = _events(slow, {"items": ["a", "b"]}, "/v1/apps/slow")
        first = await gen.__anext__()
        await gen.aclose()  # what Starlette does when the client goes away
        return first

    import anyio

    first = anyio.run(consume_one_then_close)
    assert json.loads(first[6:])["type"] == "progress"
    assert started.wait(10)
    release.set()
    assert slow.cancelled.wait(10)


@pytest.mark.parametrize("path", ["/v1/apps/echo"])
def test_body_limit_applies(path):
    with client_for({"echo": Echo()}, max_body_bytes=1024) as c:
        r = c.post(path, json={"items": ["x" * 2000]})
        assert r.status_code == 413


def test_engine_source_lends_from_the_server_registry():
    from slmkit.serve.registry import engine_source

    class Ask:
        name = "ask"

        def __init__(self, engines):
            self.engines = engines

        def run(self, payload, progress=None):
            from slmkit.core import GenerateRequest, collect

            with self.engines(payload.get("model")) as engine:
                text = collect(engine.generate(GenerateRequest(prompt="hi", max_tokens=4)))
                return {"model": engine.info.name, "text": text.text}

    app, service = fake_app(one_model(), routers=[routes_apps.router])
    app.state.apps = {"ask": Ask(engine_source(service.registry, "fake"))}
    with TestClient(app, base_url=LOOPBACK) as c:
        r = c.post("/v1/apps/ask", json={})
        assert r.status_code == 200 and r.json()["model"] == "fake"
        assert [m.active for m in service.registry.loaded()] == [0]
        r = c.post("/v1/apps/ask", json={"model": "missing"})
        assert r.status_code == 404 and r.json()["error"]["code"] == "model_not_found"


def test_list_carries_each_declared_form_for_the_web_ui():
    from slmkit.apps.logs.service import handlers
    from slmkit.apps.review.handler import ReviewApp
    from slmkit.apps.summarize.handler import SummarizeApp

    apps = {**handlers(), "summarize": SummarizeApp(None), "review": ReviewApp(None),
            "echo": Echo()}
    with client_for(apps) as c:
        listed = {a["name"]: a["form"] for a in c.get("/v1/apps").json()["data"]}
    assert listed["echo"] is None
    summarize = listed["summarize"]
    assert summarize["result"] == "summaries" and summarize["title_ko"] == "요약"
    fields = {f["name"]: f for f in summarize["fields"]}
    assert fields["text"]["kind"] == "document" and fields["text"]["required"]
    assert fields["style"]["choices"] == ["bullets", "paragraph", "actions"]
    assert fields["max_words"]["minimum"] == 10 and fields["model"]["kind"] == "model"
    assert listed["review"]["result"] == "reviews"
    assert {f["name"] for f in listed["logs/detect"]["fields"]} >= {"lines", "baseline", "all"}
    assert listed["logs/parse"]["result"] == "log_records"
    # every declared default is one the handler itself accepts
    for name in ("style", "lang", "strategy"):
        assert fields[name]["default"] in fields[name]["choices"]


def test_a_form_refuses_unknown_kinds():
    from slmkit.core.apps import AppForm, FormField

    with pytest.raises(ValueError, match="kind must be one of"):
        FormField("x", "slider", "X", "X")
    with pytest.raises(ValueError, match="needs choices"):
        FormField("x", "choice", "X", "X")
    with pytest.raises(ValueError, match="result must be one of"):
        AppForm("T", "T", "pie", ())
