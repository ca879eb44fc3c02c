"""The fleet collector: devices send heartbeats, an operator reads one table.

Storage is one SQLite file (WAL): ``devices`` (id, sha256 of its token, added), ``latest``
(each device's last heartbeat) and ``heartbeats`` (the history, for rollbacks and trends).
Each device has its own token (``slm fleet token DEVICE``); the collector stores only the
token's sha256, and a heartbeat is accepted only when its token belongs to the device id
it claims. :func:`create_app` is the HTTP side (FastAPI, the ``serve`` extra).
"""

# no "from __future__ import annotations": FastAPI resolves the Request annotation at runtime
import hashlib
import hmac
import json
import secrets
import sqlite3
import threading
import time
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS devices (id TEXT PRIMARY KEY, token_sha TEXT NOT NULL UNIQUE,
                                    added REAL NOT NULL);
CREATE TABLE IF NOT EXISTS latest (device_id TEXT PRIMARY KEY, received REAL NOT NULL,
                                   payload TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS heartbeats (device_id TEXT NOT NULL, received REAL NOT NULL,
                                       version TEXT, health TEXT, payload TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS heartbeats_device ON heartbeats (device_id, received);
"""
MAX_PAYLOAD = 64 * 1024


def _sha(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class FleetDB:
    """The collector's SQLite file; safe to share between threads."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self.conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.executescript(SCHEMA)

    def add_device(self, device_id: str) -> str:
        """A new token for ``device_id`` (replacing its old one); returned once, stored
        only as its sha256."""
        token = secrets.token_urlsafe(24)
        with self._lock:
            self.conn.execute("INSERT INTO devices VALUES (?, ?, ?) ON CONFLICT(id) DO UPDATE "
                              "SET token_sha = excluded.token_sha", (device_id, _sha(token),
                                                                    time.time()))
        return token

    def device_for(self, token: str) -> str | None:
        """The device a token belongs to (None: unknown token)."""
        digest = _sha(token)
        with self._lock:
            row = self.conn.execute("SELECT id, token_sha FROM devices WHERE token_sha = ?",
                                    (digest,)).fetchone()
        return row[0] if row and hmac.compare_digest(row[1], digest) else None

    def token_sha(self, device_id: str) -> str | None:
        """The stored sha256 of ``device_id``'s token (None: unknown device); the key of
        its MQTT heartbeats' signatures (edge.mqtt)."""
        with self._lock:
            row = self.conn.execute("SELECT token_sha FROM devices WHERE id = ?",
                                    (device_id,)).fetchone()
        return row[0] if row else None

    def ingest(self, device_id: str, payload: dict) -> None:
        """Record one heartbeat."""
        now, text = time.time(), json.dumps(payload)
        with self._lock:
            self.conn.execute("BEGIN")
            self.conn.execute("INSERT INTO latest VALUES (?, ?, ?) ON CONFLICT(device_id) DO "
                              "UPDATE SET received = excluded.received, payload = "
                              "excluded.payload", (device_id, now, text))
            self.conn.execute("INSERT INTO heartbeats VALUES (?, ?, ?, ?, ?)",
                              (device_id, now, payload.get("version"), payload.get("health"),
                               text))
            self.conn.execute("COMMIT")

    def status(self, silent_after: float = 300.0) -> list[dict]:
        """One row per known device: version, health, speed, rollbacks and why, last seen,
        and ``silent`` when no heartbeat came for ``silent_after`` seconds."""
        with self._lock:
            devices = self.conn.execute("SELECT id FROM devices ORDER BY id").fetchall()
            latest = dict((d, (r, p)) for d, r, p in self.conn.execute(
                "SELECT device_id, received, payload FROM latest"))
        now = time.time()
        rows = []
        for (device_id,) in devices:
            received, text = latest.get(device_id, (None, "{}"))
            p = json.loads(text)
            rollback = p.get("last_rollback") or {}
            rows.append({
                "device_id": device_id, "version": p.get("version"),
                "previous": p.get("previous"), "health": p.get("health"),
                "tok_s": p.get("tok_s"), "rollbacks": p.get("rollbacks", 0),
                "last_rollback": (f"{rollback.get('version')}: {rollback.get('reason')}"
                                  if rollback else None),
                "errors": p.get("errors", 0), "ram_available": p.get("ram_available"),
                "disk_free": p.get("disk_free"),
                "last_seen": received, "silent": received is None or now - received > silent_after,
            })
        return rows

    def close(self) -> None:
        self.conn.close()


def create_app(db: FleetDB):
    """The collector's HTTP app: ``POST /v1/fleet/heartbeat`` (Bearer device token) and
    ``GET /health``."""
    from fastapi import FastAPI, HTTPException, Request

    app = FastAPI(title="slmkit fleet collector")

    @app.post("/v1/fleet/heartbeat")
    async def heartbeat(request: Request):
        auth = request.headers.get("authorization", "")
        device = db.device_for(auth[7:]) if auth.lower().startswith("bearer ") else None
        if device is None:
            raise HTTPException(401, "unknown device token (make one with `slm fleet token`)")
        body = await request.body()
        if len(body) > MAX_PAYLOAD:
            raise HTTPException(413, f"heartbeat over {MAX_PAYLOAD} bytes")
        try:
            payload = json.loads(body)
        except ValueError:
            raise HTTPException(400, "the heartbeat is not JSON") from None
        if not isinstance(payload, dict) or payload.get("device_id") != device:
            raise HTTPException(403, f"this token belongs to {device}, not to "
                                     f"{payload.get('device_id') if isinstance(payload, dict) else '?'}")
        db.ingest(device, payload)
        return {"status": "ok"}

    @app.get("/health")
    async def health():
        return {"status": "ok"}

    return app


def status_table(rows: list[dict], now: float | None = None):
    """:meth:`FleetDB.status` rows as the rich table `slm fleet status` prints."""
    from rich.table import Table

    now = time.time() if now is None else now
    table = Table("device", "version", "previous", "health", "tok/s", "rollbacks",
                  "last rollback", "last seen")
    for r in rows:
        seen = "never" if r["last_seen"] is None else f"{now - r['last_seen']:.0f} s ago"
        table.add_row(r["device_id"], r["version"] or "-", r["previous"] or "-",
                      "[red]silent[/]" if r["silent"] else (r["health"] or "-"),
                      f"{r['tok_s']:.1f}" if r["tok_s"] else "-", str(r["rollbacks"]),
                      r["last_rollback"] or "-", seen)
    return table
