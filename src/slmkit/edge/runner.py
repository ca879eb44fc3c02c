"""The agent's loop: poll, heartbeat, sleep; optionally host `slm serve` on ``current``.

Kept apart from :mod:`slmkit.edge.agent` (one poll) so the poll stays testable on its own.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slmkit.edge.agent import Agent, Outcome
from slmkit.edge.server import ServeProcess


@dataclass
class Heartbeat:
    """Where heartbeats go: a fleet collector's base URL (HTTP, with this device's token
    as bearer) and/or an MQTT publisher (``edge.mqtt.Publisher``, signing with it)."""

    url: str | None
    token: str
    mqtt: Any = None


def heartbeat_target(device_id: str, url: str | None, mqtt_url: str | None,
                     token_file: str | None, *, mqtt_ca: str | None = None) -> Heartbeat | None:
    """Where this device's heartbeats go (None: nowhere); an MQTT publisher connects in
    the background. ``ValueError`` when a collector is named without a token."""
    if not (url or mqtt_url):
        return None
    if not token_file:
        raise ValueError("--fleet and --mqtt need --token-file (make one with "
                         "`slm fleet token`)")
    from pathlib import Path

    token = Path(token_file).read_text().strip()
    mqtt = None
    if mqtt_url:
        from slmkit.edge.mqtt import Publisher

        mqtt = Publisher(mqtt_url, device_id, token, ca_file=mqtt_ca)
    return Heartbeat(url, token, mqtt)


def device_metrics(agent: Agent) -> dict:
    """Disk and RAM of the device, for the heartbeat."""
    import shutil

    import psutil

    disk = shutil.disk_usage(agent.device.root)
    mem = psutil.virtual_memory()
    return {"disk_free": disk.free, "disk_total": disk.total, "ram_available": mem.available,
            "ram_total": mem.total}


def send_heartbeat(hb: Heartbeat, payload: dict, timeout: float = 10.0) -> bool:
    """Send ``payload`` over HTTP and/or MQTT; False (never an exception) when a
    collector or broker did not take it."""
    ok = True
    if hb.mqtt is not None:
        ok = hb.mqtt.send(payload)
    if hb.url:
        ok = _post(hb, payload, timeout) and ok
    return ok


def _post(hb: Heartbeat, payload: dict, timeout: float) -> bool:
    """POST ``payload`` to the collector; False when it is down."""
    req = urllib.request.Request(f"{hb.url.rstrip('/')}/v1/fleet/heartbeat",
                                 data=json.dumps(payload).encode(),
                                 headers={"Content-Type": "application/json",
                                          "Authorization": f"Bearer {hb.token}"})
    try:
        with urllib.request.urlopen(req, timeout=timeout):
            return True
    except (urllib.error.URLError, OSError):
        return False


def heartbeat_payload(agent: Agent, outcome: Outcome | None, healthy: bool | None,
                      errors: int) -> dict:
    """The device's status, its last poll's outcome, counters and resources."""
    status = agent.status()
    probation = status.get("last_probation") or {}
    return {**status, "health": "ok" if healthy else ("down" if healthy is False else "unknown"),
            "tok_s": probation.get("tok_s"), "errors": errors,
            "last_outcome": vars(outcome) if outcome else None, **device_metrics(agent)}


def run(agent: Agent, *, interval: float = 60.0, once: bool = False,
        heartbeat: Heartbeat | None = None, serve_port: int | None = None,
        serve_host: str = "127.0.0.1", report: Callable[[Outcome], None] | None = None) -> Outcome:
    """Poll every ``interval`` seconds (once: a single poll); host `slm serve` on
    ``current`` at ``serve_port`` when given, restarting it after an install or rollback."""
    server: ServeProcess | None = None
    errors = 0
    outcome = None
    try:
        while True:
            outcome = _poll(agent)
            errors += outcome.action in ("refused", "error")
            if report:
                report(outcome)
            if serve_port and (server is None or outcome.action in ("installed", "rolled_back")
                               or server.proc.poll() is not None):
                server = _restart(agent, server, serve_host, serve_port)
            if heartbeat:
                healthy = None if not serve_port else bool(server and server.proc.poll() is None)
                send_heartbeat(heartbeat, heartbeat_payload(agent, outcome, healthy, errors))
            if once:
                return outcome
            time.sleep(interval)
    finally:
        if server:
            server.stop()


def _poll(agent: Agent) -> Outcome:
    """One poll; an unexpected failure (a malformed but signed index, a full disk) becomes
    an ``error`` outcome: the daemon keeps running and keeps serving what it has."""
    from slmkit.core.errors import SlmError

    try:
        return agent.poll_once()
    except (SlmError, OSError, ValueError, KeyError, TypeError) as err:
        return Outcome("error", reason=f"{type(err).__name__}: {err}")


def _restart(agent: Agent, server: ServeProcess | None, host: str, port: int):
    if server:
        server.stop()
    slot = agent.device.current_slot()
    manifest = agent.device.slot_manifest(slot) if slot else None
    if manifest is None:
        return None
    server = ServeProcess(agent.device.slot_dir(slot), manifest, host=host, port=port,
                          log=agent.device.root / "serve.log")
    try:
        server.wait_ready()
    except RuntimeError:  # reported as health "down"; the next poll starts it again
        server.stop()
        return None
    return server
