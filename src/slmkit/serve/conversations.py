"""The web UI's conversations, kept server-side in one SQLite file.

A conversation is ``{id, title, model, settings, created, updated, messages}`` where each
message is ``{role, content, meta}`` (``meta``: the UI's numbers for an answer, such as
tokens/s and time to first token). The UI saves the whole message list after each turn,
so the store only needs create / get / list / update / delete, plus export as Markdown or
JSON. One connection per call: the store is used from worker threads.
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from slmkit.core.errors import SlmError

SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY, title TEXT NOT NULL, model TEXT, settings TEXT NOT NULL,
    created REAL NOT NULL, updated REAL NOT NULL);
CREATE TABLE IF NOT EXISTS messages (
    conversation TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    position INTEGER NOT NULL, role TEXT NOT NULL, content TEXT NOT NULL, meta TEXT,
    PRIMARY KEY (conversation, position));
"""


class ConversationNotFound(SlmError):
    code = "conversation_not_found"


class ConversationStore:
    """Conversations in the SQLite file ``path`` (created with its folder on first use)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._db() as db:
            db.executescript(SCHEMA)

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=10)
        try:
            db.execute("PRAGMA foreign_keys = ON")
            db.row_factory = sqlite3.Row
            with db:
                yield db
        finally:
            db.close()

    def create(self, title: str, model: str | None = None,
               settings: dict[str, Any] | None = None) -> dict[str, Any]:
        """A new empty conversation."""
        now = time.time()
        cid = uuid.uuid4().hex[:16]
        with self._db() as db:
            db.execute("INSERT INTO conversations VALUES (?, ?, ?, ?, ?, ?)",
                       (cid, title, model, json.dumps(settings or {}), now, now))
        return self.get(cid)

    def list(self) -> list[dict[str, Any]]:  # noqa: A003 - the store's natural verb
        """Every conversation without its messages, most recently updated first."""
        with self._db() as db:
            rows = db.execute("SELECT c.*, (SELECT COUNT(*) FROM messages m WHERE "
                              "m.conversation = c.id) AS n FROM conversations c "
                              "ORDER BY updated DESC").fetchall()
        return [_summary(r) | {"messages": r["n"]} for r in rows]

    def get(self, cid: str) -> dict[str, Any]:
        """One conversation with its messages; ``ConversationNotFound`` if there is none."""
        with self._db() as db:
            row = db.execute("SELECT * FROM conversations WHERE id = ?", (cid,)).fetchone()
            if row is None:
                raise _missing(cid)
            msgs = db.execute("SELECT role, content, meta FROM messages WHERE conversation = ?"
                              " ORDER BY position", (cid,)).fetchall()
        return _summary(row) | {"messages": [
            {"role": m["role"], "content": m["content"], "meta": json.loads(m["meta"] or "{}")}
            for m in msgs]}

    def update(self, cid: str, *, title: str | None = None, model: str | None = None,
               settings: dict[str, Any] | None = None,
               messages: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """Change what is given; ``messages`` replaces the whole list."""
        with self._db() as db:
            if db.execute("SELECT 1 FROM conversations WHERE id = ?", (cid,)).fetchone() is None:
                raise _missing(cid)
            for column, value in (("title", title), ("model", model),
                                  ("settings", None if settings is None else json.dumps(settings))):
                if value is not None:
                    db.execute(f"UPDATE conversations SET {column} = ? WHERE id = ?",  # noqa: S608
                               (value, cid))
            if messages is not None:
                db.execute("DELETE FROM messages WHERE conversation = ?", (cid,))
                db.executemany("INSERT INTO messages VALUES (?, ?, ?, ?, ?)", [
                    (cid, i, m["role"], m["content"], json.dumps(m.get("meta") or {}))
                    for i, m in enumerate(messages)])
            db.execute("UPDATE conversations SET updated = ? WHERE id = ?", (time.time(), cid))
        return self.get(cid)

    def delete(self, cid: str) -> None:
        """Remove a conversation and its messages."""
        with self._db() as db:
            if db.execute("DELETE FROM conversations WHERE id = ?", (cid,)).rowcount == 0:
                raise _missing(cid)

    def export(self, cid: str, fmt: str) -> tuple[str, str]:
        """``(text, media type)`` of a conversation as ``markdown`` or ``json``."""
        conv = self.get(cid)
        if fmt == "json":
            return json.dumps(conv, ensure_ascii=False, indent=2), "application/json"
        if fmt != "markdown":
            raise ValueError(f"unknown export format {fmt!r}; use markdown or json")
        lines = [f"# {conv['title']}", ""]
        if conv["model"]:
            lines += [f"model: `{conv['model']}`", ""]
        for m in conv["messages"]:
            lines += [f"## {m['role']}", "", m["content"], ""]
        return "\n".join(lines), "text/markdown; charset=utf-8"


def _summary(row: sqlite3.Row) -> dict[str, Any]:
    return {"id": row["id"], "title": row["title"], "model": row["model"],
            "settings": json.loads(row["settings"]), "created": row["created"],
            "updated": row["updated"]}


def _missing(cid: str) -> ConversationNotFound:
    return ConversationNotFound(f"conversation {cid!r} not found",
                                hint="GET /v1/ui/conversations lists them")
