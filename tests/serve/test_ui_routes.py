"""The web UI's HTTP side without a browser: static files (open, CSP, no traversal),
conversations in SQLite, jobs, the JSON metrics twin, model admin and ingest jobs."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from helpers.fake_engine import FakeLocal
from helpers.fake_server import FakeLoader, fake_app
from helpers.ui_fakes import MemoryCollections, SlowAdmin
from slmkit.serve.auth import ApiKeys
from slmkit.serve.conversations import ConversationStore
from slmkit.serve.metrics_json import quantile

KEY = "ui-unit-key-0123456789"


@pytest.fixture
def client(tmp_path):
    from slmkit.serve import routes_rag

    state = {"rag": MemoryCollections(), "models_admin": SlowAdmin(steps=3, delay=0.01),
             "conversations": ConversationStore(tmp_path / "c.sqlite")}
    app, _ = fake_app(FakeLoader({"fake": lambda: FakeLocal(name="fake")}),
                      routers=[routes_rag.router], state=state, api_keys=ApiKeys([KEY]))
    with TestClient(app, base_url="http://127.0.0.1:8000",
                    headers={"Authorization": f"Bearer {KEY}"}) as c:
        yield c


def _wait_job(client, job_id: str) -> dict:
    deadline = time.monotonic() + 10  # a hang guard
    while time.monotonic() < deadline:
        job = client.get(f"/v1/ui/jobs/{job_id}").json()
        if job["state"] != "running":
            return job
        time.sleep(0.02)
    raise AssertionError("job never finished")


def test_static_files_are_open_with_a_strict_csp_and_nothing_else_is(client):
    anonymous = {"Authorization": ""}
    root = client.get("/", headers=anonymous)
    assert root.status_code == 200 and "<title>slmkit</title>" in root.text
    csp = root.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "default-src 'none'" in csp
    assert root.headers["x-content-type-options"] == "nosniff"
    js = client.get("/ui/js/chat.js", headers=anonymous)
    assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")
    assert "innerHTML" not in js.text
    for path in ("/ui/%2e%2e/app.py", "/ui/..%2fapp.py", "/ui/js/missing.js", "/ui/"):
        assert client.get(path, headers=anonymous).status_code == 404, path
    assert client.get("/ui/../routes_ui.py", headers=anonymous).status_code == 401
    assert client.get("/v1/ui/conversations", headers=anonymous).status_code == 401
    assert client.get("/v1/ui/metrics", headers=anonymous).status_code == 401
    assert client.post("/v1/ui/models/measure", json={"model": "fake"},
                       headers=anonymous).status_code == 401
    assert client.post("/ui/js/chat.js", headers=anonymous).status_code in (401, 405)


def test_no_ui_script_uses_inner_html_or_eval(client):
    from slmkit.serve.routes_ui import _assets

    scripts = {p: d.decode() for p, d in _assets().items() if p.endswith((".js", ".html"))}
    assert "js/main.js" in scripts and "index.html" in scripts
    for path, text in scripts.items():
        for banned in ("innerHTML", "outerHTML", "insertAdjacentHTML", "eval(", "new Function",
                       "document.write", "http://", "https://"):
            assert banned not in text.replace("http://www.w3.org/2000/svg", ""), (path, banned)
    assert "<script>" not in scripts["index.html"] and "style=" not in scripts["index.html"]


def test_conversations_create_update_export_delete(client):
    made = client.post("/v1/ui/conversations", json={"title": "First <b>chat</b>",
                                                     "model": "fake"}).json()
    cid = made["id"]
    messages = [{"role": "user", "content": "hi"},
                {"role": "assistant", "content": "hello", "meta": {"tps": 12.5}}]
    r = client.put(f"/v1/ui/conversations/{cid}", json={"messages": messages,
                                                         "settings": {"system": "be brief"}})
    assert r.status_code == 200 and r.json()["messages"][1]["meta"] == {"tps": 12.5}
    client.put(f"/v1/ui/conversations/{cid}", json={"title": "Renamed"})
    listed = client.get("/v1/ui/conversations").json()["data"]
    assert [(c["title"], c["messages"]) for c in listed] == [("Renamed", 2)]
    md = client.get(f"/v1/ui/conversations/{cid}/export?format=markdown")
    assert md.text.startswith("# Renamed") and "## assistant\n\nhello" in md.text
    assert "attachment" in md.headers["content-disposition"]
    js = client.get(f"/v1/ui/conversations/{cid}/export?format=json").json()
    assert js["settings"] == {"system": "be brief"} and len(js["messages"]) == 2
    assert client.get(f"/v1/ui/conversations/{cid}/export?format=html").status_code == 400
    assert client.delete(f"/v1/ui/conversations/{cid}").json()["deleted"] is True
    gone = client.get(f"/v1/ui/conversations/{cid}")
    assert gone.status_code == 404 and "not found" in gone.json()["error"]["message"]
    assert client.delete(f"/v1/ui/conversations/{cid}").status_code == 404


def test_conversation_input_is_validated(client):
    cid = client.post("/v1/ui/conversations", json={}).json()["id"]
    bad = client.put(f"/v1/ui/conversations/{cid}",
                     json={"messages": [{"role": "tool", "content": "x"}]})
    assert bad.status_code == 400 and "role" in bad.json()["error"]["message"]
    assert client.post("/v1/ui/conversations", json={"title": ""}).status_code == 400


def test_conversations_persist_in_the_sqlite_file(tmp_path):
    store = ConversationStore(tmp_path / "ui" / "c.sqlite")
    cid = store.create("kept")["id"]
    store.update(cid, messages=[{"role": "user", "content": "안녕"}])
    again = ConversationStore(tmp_path / "ui" / "c.sqlite")
    assert again.get(cid)["messages"][0]["content"] == "안녕"


def test_metrics_twin_counts_what_prometheus_counts(client):
    before = client.get("/v1/ui/metrics").json()
    r = client.post("/v1/chat/completions", json={
        "model": "fake", "messages": [{"role": "user", "content": "one two three"}]})
    assert r.status_code == 200
    after = client.get("/v1/ui/metrics").json()
    assert after["counters"]["completion_tokens"] > before["counters"]["completion_tokens"]
    assert after["counters"]["requests"] > before["counters"]["requests"]
    assert after["percentiles"]["time_to_first_token_seconds"]["p50"] is not None
    assert [m["name"] for m in after["models"]] == ["fake"] and after["loaded_models"] == 1


def test_quantile_interpolates_inside_the_bucket():
    assert quantile(0.5, {0.1: 0.0, 1.0: 10.0, float("inf"): 10.0}) == pytest.approx(0.55)
    assert quantile(0.95, {1.0: 0.0, float("inf"): 4.0}) == 1.0
    assert quantile(0.5, {1.0: 0.0, float("inf"): 0.0}) is None


def test_pull_job_reports_progress_and_survives_as_a_job(client):
    job = client.post("/v1/ui/jobs/pull", json={"model": "new-one"}).json()
    assert job["state"] == "running" and job["kind"] == "pull"
    done = _wait_job(client, job["id"])
    assert done["state"] == "done" and done["progress"] == 1.0
    assert done["detail"]["bytes_done"] == done["detail"]["bytes_total"] == 3000
    assert job["id"] in [j["id"] for j in client.get("/v1/ui/jobs").json()["data"]]
    names = [m["name"] for m in client.get("/v1/ui/models").json()["stored"]]
    assert "new-one" in names
    assert client.delete("/v1/ui/models/new-one").json()["bytes_freed"] == 1000
    assert client.get("/v1/ui/jobs/nope").status_code == 404


def test_ingest_job_reports_each_file(client):
    job = client.post("/v1/ui/jobs/ingest", json={"collection": "kb", "documents": [
        {"name": "a.md", "text": "alpha line\nbeta"}, {"name": "bad.txt", "text": "FAIL"}]}).json()
    done = _wait_job(client, job["id"])
    files = {f["name"]: f for f in done["detail"]["files"]}
    assert done["state"] == "done" and done["detail"]["failed"] == 1
    assert files["a.md"] == {"name": "a.md", "state": "done", "chunks": 2}
    assert files["bad.txt"]["state"] == "failed" and "could not be parsed" in files["bad.txt"]["error"]
    every_bad = client.post("/v1/ui/jobs/ingest", json={"collection": "kb", "documents": [
        {"name": "bad.txt", "text": "FAIL"}]}).json()
    failed = _wait_job(client, every_bad["id"])
    assert failed["state"] == "failed" and "no file could be ingested" in failed["error"]


def test_features_and_disabled_parts(tmp_path):
    app, _ = fake_app(FakeLoader({"fake": lambda: FakeLocal(name="fake")}))
    with TestClient(app, base_url="http://127.0.0.1:8000") as c:
        features = c.get("/v1/ui/features").json()
        assert features["rag"] is False and features["apps"] == []  # no Apps page
        r = c.get("/v1/ui/models")
        assert r.status_code == 404 and "slm serve" in r.json()["error"]["hint"]
        assert c.get("/v1/ui/conversations").status_code == 404
        assert c.post("/v1/ui/jobs/ingest", json={"collection": "x", "documents": [
            {"name": "a", "text": "b"}]}).status_code == 404


def test_operations_reports_ledger_counts_never_values(tmp_path):
    from slmkit.route.ledger import Entry, Ledger
    from slmkit.route.report import operations

    path = tmp_path / "ledger.sqlite"
    assert operations(path) is None
    ledger = Ledger(path)
    ledger.record(Entry(route="remote", reason="hard: 0.9", masked=3, remote_cost=0.01,
                        all_remote_cost=0.01))
    ledger.record(Entry(route="remote", reason="hard: 0.9", outcome="blocked"))
    ledger.close()
    app, _ = fake_app(FakeLoader({"fake": lambda: FakeLocal(name="fake")}),
                      state={"operations": lambda: operations(path)})
    with TestClient(app, base_url="http://127.0.0.1:8000") as c:
        report = c.get("/v1/ui/operations").json()
    assert report["routing"]["requests"] == 2 and report["routing"]["reasons"] == {"hard": 2}
    assert report["guard"] == {"masked_values": 3, "kept_local": 0, "blocked": 1}
    app, _ = fake_app(FakeLoader({"fake": lambda: FakeLocal(name="fake")}))
    with TestClient(app, base_url="http://127.0.0.1:8000") as c:
        assert c.get("/v1/ui/operations").json() == {"routing": None, "guard": None}


def test_load_and_unload_a_model(client):
    assert client.get("/v1/ui/models").json()["loaded"] == []
    assert client.post("/v1/ui/models/load", json={"model": "fake"}).json()["loaded"] is True
    assert client.get("/v1/ui/models").json()["loaded"] == ["fake"]
    assert client.post("/v1/ui/models/unload", json={"model": "fake"}).json()["loaded"] is False
    assert client.get("/v1/ui/models").json()["loaded"] == []
    missing = client.post("/v1/ui/models/load", json={"model": "nope"})
    assert missing.status_code == 404


def test_models_show_recent_and_measured_decode_speeds(client):
    admin = client.app.state.models_admin
    admin.models.append({"name": "fake", "size_bytes": 10, "quantization": "F16",
                         "parameters": 1, "parent": None, "method": None})
    row = _row(client, "fake")
    assert row["recent"] is None and row["speed"] is None  # never answered, never measured
    r = client.post("/v1/chat/completions", json={
        "model": "fake", "messages": [{"role": "user", "content": "one two three four five"}]})
    assert r.status_code == 200
    recent = _row(client, "fake")["recent"]
    assert recent["generations"] == 1 and recent["decode_tps"] > 0 and recent["at"] > 0
    measured = client.post("/v1/ui/models/measure", json={"model": "fake"}).json()
    assert measured["model"] == "fake" and measured["speed"]["source"] == "measured"
    assert measured["speed"]["tokens"] >= 2 and measured["speed"]["decode_tps"] > 0
    assert _row(client, "fake")["speed"] == admin.speeds["fake"] == measured["speed"]
    missing = client.post("/v1/ui/models/measure", json={"model": "nope"})
    assert missing.status_code == 404


def _row(client, name: str) -> dict:
    rows = client.get("/v1/ui/models").json()["stored"]
    return next(r for r in rows if r["name"] == name)


def test_recent_speeds_ignore_short_answers_and_keep_the_median():
    from slmkit.core.types import Usage
    from slmkit.serve.speeds import KEEP, RecentSpeeds

    speeds = RecentSpeeds()
    speeds.observe("m", Usage(completion_tokens=2, decode_seconds=0.1))  # too short
    speeds.observe("m", None)
    assert speeds.get("m") is None
    for tps in (10, 30, 20):  # 9 decode steps at 10, 30 and 20 tokens/s
        speeds.observe("m", Usage(completion_tokens=10, decode_seconds=9 / tps))
    got = speeds.get("m")
    assert got["decode_tps"] == 20.0 and got["generations"] == 3 and got["tokens"] == 30
    for _ in range(KEEP + 5):
        speeds.observe("m", Usage(completion_tokens=10, decode_seconds=0.9))
    assert speeds.get("m")["generations"] == KEEP and speeds.get("m")["decode_tps"] == 10.0
