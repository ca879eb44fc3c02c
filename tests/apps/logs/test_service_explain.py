"""The logs app over HTTP (``/v1/apps/logs/*`` through create_app), its /metrics counters,
and explanations cached per kind of anomaly (fake engine: what the model is asked)."""

from __future__ import annotations

from contextlib import contextmanager

from starlette.testclient import TestClient

from helpers.fake_engine import FakeLocal
from helpers.fake_server import fake_app, one_model
from slmkit.apps.logs.detect import detect_lines
from slmkit.apps.logs.explain import Explainer, explain_records
from slmkit.apps.logs.service import handlers
from slmkit.serve import routes_apps

LOOPBACK = "http://127.0.0.1:8000"


def normal(i: int) -> str:
    return f"2024-01-01 10:00:{i % 60:02d} INFO api: served request {i} in {10 + i % 5} ms"


LOG = [normal(i) for i in range(120)]
LOG[100] = "2024-01-01 10:01:40 ERROR db: connection refused by 10.0.0.9"
LOG[110] = "2024-01-01 10:01:50 ERROR db: connection refused by 10.0.0.8"


def engines_of(engine):
    @contextmanager
    def engines(model):
        yield engine
    return engines


def client(apps) -> TestClient:
    app, _ = fake_app(one_model(), routers=[routes_apps.router], state={"apps": apps})
    return TestClient(app, base_url=LOOPBACK)


def test_detect_over_http_and_counters_on_metrics():
    with client(handlers()) as c:
        r = c.post("/v1/apps/logs/detect", json={"lines": LOG})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["events"] == 120
        assert [a["line"] for a in body["anomalies"]] == [101, 111]
        assert body["counts"]["severity"] == 2
        metrics = c.get("/metrics").text
        assert 'slm_log_anomalies_total{type="severity"} 2.0' in metrics
        assert 'slm_log_anomalies_total{type="keyword"} 2.0' in metrics
        # the stream carries on: the same error again is no longer new
        r = c.post("/v1/apps/logs/detect", json={"text": LOG[100], "all": True})
        assert r.json()["anomalies"][0]["signals"]["new"] == 0.0


def test_parse_over_http_and_bad_payloads():
    with client(handlers()) as c:
        r = c.post("/v1/apps/logs/parse", json={"lines": LOG[:3], "stream_id": "a"})
        recs = r.json()["records"]
        assert len(recs) == 3 and recs[2]["template"].startswith("INFO api: served request")
        r = c.post("/v1/apps/logs/parse", json={"lines": "not a list"})
        assert r.status_code == 400 and "lines" in r.json()["error"]["message"]
        r = c.post("/v1/apps/logs/parse", json={"lines": [], "stream_id": "a",
                                                "format": "hdfs"})
        assert r.status_code == 400 and "stream 'a'" in r.json()["error"]["message"]


def test_explanations_cite_context_and_are_cached_per_kind():
    engine = FakeLocal(answer="The database refused connections [L101]. Next step: check "
                              "the db service on 10.0.0.9.")
    recs = list(detect_lines(line + "\n" for line in LOG))
    ex = Explainer(engine, context=2)
    out = explain_records(recs, ex)
    assert [o["line"] for o in out] == [101, 111]
    assert out[0]["cites"] == [101] and out[0]["next_step"].startswith("check the db")
    assert out[0]["context_lines"] == [99, 100, 101, 102, 103]
    assert not out[0]["cached"] and out[1]["cached"] and out[1]["first_line"] == 101
    assert ex.stats.model_calls == 1 and ex.stats.cache_hits == 1
    assert ex.stats.per_1000_lines() == 1000 / 120
    prompt = engine.requests[0].messages[-1].content
    assert ">>[L101] ERROR db: connection refused by 10.0.0.9" in prompt
    assert "[L100] INFO api: served request 99" in prompt


def test_explain_over_http_uses_the_lent_engine():
    engine = FakeLocal(answer="Refused [L101]. Next step: ping it.")
    with client(handlers(engines_of(engine))) as c:
        r = c.post("/v1/apps/logs/explain", json={"lines": LOG, "limit": 5})
        body = r.json()
        assert r.status_code == 200 and body["model_calls"] == 1
        assert body["explanations"][1]["cached"] is True
        r = c.post("/v1/apps/logs/explain", json={"lines": LOG, "limit": 0})
        assert r.status_code == 400 and "limit" in r.json()["error"]["message"]
