"""The cost ledger: one row per routed request in a SQLite file (stdlib ``sqlite3``).

Each row says where the request was answered and why, its tokens, the local compute
seconds, what the remote part cost (from the price table), and what the whole request
would have cost had it gone to the remote model — so savings against all-remote are a sum.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS requests (
    id INTEGER PRIMARY KEY,
    ts REAL NOT NULL,
    request_id TEXT,
    route TEXT NOT NULL,               -- local | remote | fallback
    reason TEXT NOT NULL,
    outcome TEXT NOT NULL,             -- ok | error | cancelled
    local_prompt_tokens INTEGER DEFAULT 0,
    local_completion_tokens INTEGER DEFAULT 0,
    local_seconds REAL DEFAULT 0,
    remote_model TEXT,
    remote_prompt_tokens INTEGER DEFAULT 0,
    remote_completion_tokens INTEGER DEFAULT 0,
    remote_cost REAL DEFAULT 0,
    all_remote_cost REAL DEFAULT 0,
    masked INTEGER DEFAULT 0,
    mean_logprob REAL,
    min_logprob REAL,
    overhead_ms REAL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS requests_ts ON requests (ts);
"""


@dataclass
class Entry:
    """One routed request, as recorded."""

    route: str
    reason: str
    outcome: str = "ok"
    request_id: str = ""
    local_prompt_tokens: int = 0
    local_completion_tokens: int = 0
    local_seconds: float = 0.0
    remote_model: str | None = None
    remote_prompt_tokens: int = 0
    remote_completion_tokens: int = 0
    remote_cost: float = 0.0
    all_remote_cost: float = 0.0
    masked: int = 0
    mean_logprob: float | None = None
    min_logprob: float | None = None
    overhead_ms: float = 0.0
    ts: float = 0.0


def default_path() -> Path:
    """``$SLM_HOME/route/ledger.sqlite`` (``~/.slmkit`` by default)."""
    from slmkit.settings import get_settings

    return get_settings().home / "route" / "ledger.sqlite"


def _private_file(path: Path) -> None:
    """Create ``path`` (and a missing directory, 0700) readable by the owner only; SQLite
    gives its -wal and -shm files the database file's mode."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, 0o600))


class Ledger:
    """Thread-safe append and query over one SQLite file (``":memory:"`` for none)."""

    def __init__(self, path: str | os.PathLike = ":memory:") -> None:
        self.path = str(path)
        if self.path != ":memory:":
            _private_file(Path(self.path))
        self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=10)
        self._lock = threading.Lock()
        with self._lock:
            if self.path != ":memory:":  # appends stay cheap on the request path
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(SCHEMA)

    def record(self, entry: Entry) -> None:
        """Append one request."""
        row = asdict(entry)
        row["ts"] = row["ts"] or time.time()
        cols = ", ".join(row)
        with self._lock, self._db:
            self._db.execute(f"INSERT INTO requests ({cols}) VALUES "
                             f"({', '.join('?' * len(row))})", tuple(row.values()))

    def remote_usage_since(self, since: float) -> tuple[int, int, float]:
        """(remote requests, remote tokens, remote cost) since a time (for budgets)."""
        with self._lock:
            r = self._db.execute(
                "SELECT COUNT(*), "
                "COALESCE(SUM(remote_prompt_tokens + remote_completion_tokens), 0),"
                " COALESCE(SUM(remote_cost), 0) FROM requests WHERE ts >= ? AND route = 'remote'",
                (since,)).fetchone()
        return int(r[0]), int(r[1]), float(r[2])

    def entries(self, since: float = 0.0) -> list[Entry]:
        """Every recorded request since a time, oldest first."""
        names = [f.name for f in fields(Entry)]
        with self._lock:
            rows = self._db.execute(f"SELECT {', '.join(names)} FROM requests WHERE ts >= ? "
                                    "ORDER BY ts, id", (since,)).fetchall()
        return [Entry(**dict(zip(names, r))) for r in rows]

    def close(self) -> None:
        with self._lock:
            self._db.close()
