"""The fleet collector: per-device token auth, ingest, the status table; a real agent's
heartbeat over HTTP."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from helpers.edge_bundles import agent_for, build_bundle, make_keys
from helpers.fake_server import LiveServer

from slmkit.edge import repo
from slmkit.edge.fleet import FleetDB, create_app
from slmkit.edge.runner import Heartbeat, heartbeat_payload, send_heartbeat


@pytest.fixture
def db(tmp_path):
    d = FleetDB(tmp_path / "fleet.db")
    yield d
    d.close()


def _post(client, token, payload):
    return client.post("/v1/fleet/heartbeat", content=json.dumps(payload),
                       headers={"Authorization": f"Bearer {token}"})


def test_heartbeat_needs_the_devices_own_token(db):
    a, b = db.add_device("dev-a"), db.add_device("dev-b")
    client = TestClient(create_app(db))
    assert _post(client, "nope", {"device_id": "dev-a"}).status_code == 401
    r = _post(client, b, {"device_id": "dev-a", "version": "6.6.6"})
    assert r.status_code == 403 and "belongs to dev-b" in r.text
    assert _post(client, a, {"device_id": "dev-a", "version": "1.0.0", "health": "ok",
                             "tok_s": 42.0}).status_code == 200
    rows = {r["device_id"]: r for r in db.status()}
    assert rows["dev-a"]["version"] == "1.0.0" and not rows["dev-a"]["silent"]
    assert rows["dev-b"]["silent"] and rows["dev-b"]["version"] is None


def test_a_new_token_revokes_the_old_one(db):
    old = db.add_device("dev-a")
    new = db.add_device("dev-a")
    assert db.device_for(old) is None and db.device_for(new) == "dev-a"


def test_status_shows_rollbacks_with_reasons_and_silence(db):
    db.add_device("dev-a")
    db.ingest("dev-a", {"device_id": "dev-a", "version": "1.0.0", "rollbacks": 1,
                        "last_rollback": {"version": "1.1.0", "reason": "golden 0/1"}})
    row = db.status()[0]
    assert row["rollbacks"] == 1 and row["last_rollback"] == "1.1.0: golden 0/1"
    assert db.status(silent_after=-1)[0]["silent"]


def test_agent_heartbeat_reaches_the_collector(tmp_path, db):
    priv, pub = make_keys(tmp_path)
    repo.publish(build_bundle(tmp_path, priv, "1.0.0"), tmp_path / "repo", priv)
    agent = agent_for(tmp_path, tmp_path / "repo", pub, ram_limit=1)
    outcome = agent.poll_once()
    token = db.add_device(agent.device.id)
    with LiveServer(create_app(db)) as server:
        payload = heartbeat_payload(agent, outcome, None, errors=1)
        assert send_heartbeat(Heartbeat(server.url, token), payload)
        assert not send_heartbeat(Heartbeat(server.url, "wrong"), payload)
    row = db.status()[0]
    assert row["device_id"] == "dev-test" and row["errors"] == 1
    assert row["ram_available"] > 0 and row["disk_free"] > 0
    assert not send_heartbeat(Heartbeat("http://127.0.0.1:9", token), payload)  # down: False
