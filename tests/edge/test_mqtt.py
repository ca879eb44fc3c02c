"""Heartbeats over MQTT through a real broker (mosquitto): signed envelopes from the
agent's publisher reach the collector's SQLite; forged, misdirected, stale and replayed
messages are refused; the CLI collector and agent talk over it end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
from helpers.edge_bundles import build_bundle, make_keys
from helpers.mqtt_broker import mosquitto

from slmkit.edge import mqtt, repo
from slmkit.edge.fleet import FleetDB


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    with mosquitto(tmp_path_factory.mktemp("broker")) as port:
        yield port


def _wait(cond, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_url_parsing():
    b = mqtt.parse_url("mqtts://plant:s%40cret@broker.local/slmkit/fleet")
    assert (b.host, b.port, b.topic, b.tls, b.username, b.password) == (
        "broker.local", 8883, "slmkit/fleet", True, "plant", "s@cret")
    assert mqtt.parse_url("mqtt://127.0.0.1:1884/t").port == 1884
    for bad in ("http://h/t", "mqtt://h", "mqtt://h/a/+"):
        with pytest.raises(ValueError, match="mqtt://"):
            mqtt.parse_url(bad)


def test_signed_heartbeats_are_stored_and_forgeries_refused(tmp_path, broker):
    db = FleetDB(tmp_path / "fleet.db")
    token, other = db.add_device("gw-01"), db.add_device("gw-02")
    url = f"mqtt://127.0.0.1:{broker}/plant/fleet"
    sub = mqtt.Subscriber(url, db.ingest, db.token_sha)
    sub.start()
    pub = mqtt.Publisher(url, "gw-01", token)
    try:
        for n in range(3):
            assert pub.send({"device_id": "gw-01", "version": "1.0.0", "health": "ok",
                             "round": n})
        _wait(lambda: sub.accepted == 3)
        rows = {r["device_id"]: r for r in db.status()}
        assert rows["gw-01"]["version"] == "1.0.0" and not rows["gw-01"]["silent"]
        assert rows["gw-02"]["silent"]  # never heard from

        raw = pub.client
        topic = "plant/fleet/gw-01"
        cases = [  # (topic, envelope bytes, the reason the collector gives)
            (topic, mqtt.seal("gw-01", other, {"device_id": "gw-01"}), "does not match"),
            ("plant/fleet/gw-02", mqtt.seal("gw-01", token, {"device_id": "gw-01"}),
             "different devices"),
            (topic, mqtt.seal("gw-01", token, {"device_id": "gw-01"},
                              sent=time.time() - 3600), "away from now"),
            ("plant/fleet/gw-09", mqtt.seal("gw-09", token, {"device_id": "gw-09"}),
             "unknown device"),
            (topic, b"not json", "not a heartbeat"),
        ]
        for n, (t, data, reason) in enumerate(cases, 1):
            raw.publish(t, data, qos=1).wait_for_publish(10)
            _wait(lambda n=n: sub.rejected == n)
            assert reason in sub.last_error, (reason, sub.last_error)
        replay = mqtt.seal("gw-01", token, {"device_id": "gw-01", "version": "0.9"},
                           sent=time.time() - 60)  # older than the last accepted
        raw.publish(topic, replay, qos=1).wait_for_publish(10)
        _wait(lambda: sub.rejected == len(cases) + 1)
        assert "replay" in sub.last_error
        stored = db.conn.execute("SELECT count(*) FROM heartbeats").fetchone()[0]
        assert stored == 3 and sub.accepted == 3
    finally:
        pub.close()
        sub.stop()
        db.close()


def test_agent_and_collector_over_mqtt_through_the_cli(tmp_path, broker):
    env = {**os.environ, "SLM_HOME": str(tmp_path / "home")}
    slm = [sys.executable, "-m", "slmkit.cli.main"]
    db = tmp_path / "fleet.db"
    subprocess.run([*slm, "fleet", "token", "gw-07", "--db", str(db), "-o",
                    str(tmp_path / "gw-07.token")], env=env, check=True, capture_output=True)
    priv, pub = make_keys(tmp_path)  # a repository whose channel "other" is not followed
    repo.publish(build_bundle(tmp_path, priv, "1.0.0"), tmp_path / "repo", priv,
                 channel="other")
    url = f"mqtt://127.0.0.1:{broker}/slmkit/fleet"
    collector = subprocess.Popen([*slm, "fleet", "serve", "--db", str(db), "--port", "0",
                                  "--mqtt", url], env=env, stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, text=True)
    try:
        assert "subscribed" in collector.stdout.readline()
        out = subprocess.run([*slm, "agent", "--repo", str(tmp_path / "repo"), "--key",
                              str(pub), "--device-dir", str(tmp_path / "device"),
                              "--device-id", "gw-07", "--once", "--json", "--mqtt", url,
                              "--token-file", str(tmp_path / "gw-07.token")],
                             env=env, capture_output=True, text=True, timeout=120)
        assert json.loads(out.stdout)["action"] == "none", out.stdout + out.stderr

        def seen() -> bool:
            got = subprocess.run([*slm, "fleet", "status", "--db", str(db), "--json"],
                                 env=env, capture_output=True, text=True).stdout
            return json.loads(got)[0]["last_seen"] is not None
        _wait(seen, 30)
    finally:
        collector.terminate()
        collector.wait(10)
