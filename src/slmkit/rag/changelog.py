"""The change log the index files next to a collection replay (``ann_log``, filled by
triggers on ``chunks`` in the writer's own transaction; see :mod:`slmkit.rag.store`).

An index file records the last log position it holds (``seq``). Log entries every index on
disk holds are pruned by the writer; ``meta.ann_pruned`` says how far, so an index older
than that cannot be brought up to date by replaying and is rebuilt instead.
"""

from __future__ import annotations

import fcntl
import os
from contextlib import contextmanager
from pathlib import Path

from slmkit.rag.store import LOG_SCHEMA, Collection


def has_log(coll: Collection) -> bool:
    return bool(coll.conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'ann_log'")
                .fetchall())


def ensure_log(coll: Collection) -> None:
    """Create the change log and its triggers (collections made before the index had none)."""
    if not has_log(coll):
        with coll.write():
            coll.conn.execute(LOG_SCHEMA)


def size(coll: Collection) -> int:
    """The largest chunk id (chunk ids are row ids: about the number of chunks)."""
    return coll.conn.execute("SELECT max(id) FROM chunks").fetchall()[0][0] or 0


def log_max(coll: Collection) -> int:
    """The last log position ever written: ``ann_log`` is AUTOINCREMENT, so SQLite keeps it
    in ``sqlite_sequence`` after the entries are pruned (``max(seq)`` of an empty log is
    not 0: an index built then holds every change up to here)."""
    return coll.conn.execute(
        "SELECT max(coalesce((SELECT max(seq) FROM ann_log), 0), coalesce((SELECT seq FROM "
        "sqlite_sequence WHERE name = 'ann_log'), 0))").fetchall()[0][0]


def pruned(coll: Collection) -> int:
    return int(coll.meta().get("ann_pruned", "0"))


def changed_since(coll: Collection, seq: int) -> list[int]:
    """Chunk ids inserted or deleted after log position ``seq``."""
    return [r[0] for r in coll.conn.execute(
        "SELECT DISTINCT chunk_id FROM ann_log WHERE seq > ?", (seq,)).fetchall()]


def prune(coll: Collection, upto: int) -> None:
    """Drop log entries every index on disk already holds. Inside :meth:`Collection.write`."""
    coll.conn.execute("DELETE FROM ann_log WHERE seq <= ?", (upto,))
    coll.conn.execute("UPDATE meta SET value = ? WHERE key = 'ann_pruned' AND "
                      "CAST(value AS INTEGER) < ?", (str(upto), upto))


def sidecar(coll: Collection, suffix: str) -> Path:
    """``<name><suffix>`` next to the collection's ``<name>.db``."""
    return Path(str(coll.path)[: -len(".db")] + suffix)


@contextmanager
def locked(path: Path, kind: int):
    """An advisory lock on ``path`` (``fcntl.LOCK_SH`` or ``LOCK_EX``), created if missing."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, kind)
        yield
    finally:
        os.close(fd)  # releases the lock
