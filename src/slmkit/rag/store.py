"""One SQLite file per collection: documents, chunks, FTS5 (BM25) and sqlite-vec (vectors).

Layout: ``$SLM_HOME/rag/<name>.db``. The file is opened through ``apsw`` (the stdlib
``sqlite3`` here cannot load extensions) in WAL mode with a busy timeout, so several
processes may read while one writes; every write is one ``BEGIN IMMEDIATE`` transaction, so
a reader sees a document either wholly old or wholly new.

Tables::

    meta(key, value)                       embedder, dimension, schema, created
    documents(id, path UNIQUE, sha256, doc_type, mtime, size, n_chunks, ingested_at)
    chunks(id, doc_id, ord, text, char_start, char_end, page, line_start, line_end, n_tokens)
    chunks_fts  fts5(text) external content = chunks       (BM25)
    chunks_vec  vec0(id, emb float[D])                      (L2 on unit vectors)
    ann_log(seq, chunk_id)   chunk ids inserted or deleted, by trigger (rag/ann.py replays
                             them into the ANN index file ``<name>.ann`` next to the .db)
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

from slmkit.core.errors import SlmError

SCHEMA = 1
BUSY_TIMEOUT_MS = 30_000
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
FTS_TOKENIZER = "porter unicode61 remove_diacritics 2"
LOG_SCHEMA = """
CREATE TABLE IF NOT EXISTS ann_log(seq INTEGER PRIMARY KEY AUTOINCREMENT, chunk_id INTEGER);
CREATE TRIGGER IF NOT EXISTS chunks_ann_ins AFTER INSERT ON chunks
    BEGIN INSERT INTO ann_log(chunk_id) VALUES (new.id); END;
CREATE TRIGGER IF NOT EXISTS chunks_ann_del AFTER DELETE ON chunks
    BEGIN INSERT INTO ann_log(chunk_id) VALUES (old.id); END;
INSERT OR IGNORE INTO meta VALUES ('ann_pruned', '0');
"""


class CollectionNotFoundError(SlmError):
    code = "collection_not_found"

    def __init__(self, name: str, known: Sequence[str] = ()) -> None:
        listed = f" (collections: {', '.join(known)})" if known else ""
        super().__init__(f"collection {name!r} not found{listed}",
                         hint=f"create it with `slm rag ingest {name} PATH...`")


class EmbedderMismatchError(SlmError):
    code = "embedder_mismatch"


class StoreError(SlmError):
    code = "rag_store_error"


def rag_home(home: str | os.PathLike | None = None) -> Path:
    """``$SLM_HOME/rag`` (``~/.slmkit/rag``), or ``home/rag``."""
    from slmkit.settings import get_settings

    return (Path(home) if home else get_settings().home) / "rag"


def check_name(name: str) -> str:
    if not isinstance(name, str) or not NAME_RE.fullmatch(name) or ".." in name:
        raise ValueError(f"invalid collection name {name!r}: use 1-64 letters, digits, "
                         "'_', '-' or '.', starting with a letter or digit")
    return name


def collection_path(name: str, home=None) -> Path:
    return rag_home(home) / f"{check_name(name)}.db"


def list_collections(home=None) -> list[str]:
    root = rag_home(home)
    if not root.is_dir():
        return []
    return sorted(p.stem for p in root.glob("*.db") if NAME_RE.fullmatch(p.stem))


def drop_collection(name: str, home=None) -> bool:
    path = collection_path(name, home)
    existed = path.exists()
    base = str(path)[: -len(".db")]
    for name in [str(path) + s for s in ("", "-wal", "-shm")] + \
            [base + s for s in (".ann", ".ann.json", ".ann.lock", ".bm25", ".bm25.lock")]:
        try:
            os.remove(name)
        except FileNotFoundError:
            pass
    return existed


def snapshot(name: str, dest: str | os.PathLike, home=None) -> str:
    """Write a consistent, compacted copy of collection ``name`` to ``dest`` (a single
    SQLite file in WAL mode, so opening it to read does not change its bytes; the ANN
    index is not copied: it is rebuilt from the vectors on first use). Returns the name of
    the embedder the collection was built with (a bundle must carry or name it)."""
    dest = Path(dest)
    dest.unlink(missing_ok=True)
    with Collection(name, home) as coll:
        embedder = coll.embedder
        if not embedder:
            raise StoreError(f"collection {name!r} is empty (no embedder recorded)",
                             hint=f"ingest documents first: `slm rag ingest {name} PATH...`")
        coll.conn.execute("VACUUM INTO ?", (str(dest),))  # one consistent read
    conn = _connect(dest, create=False)  # sets WAL in the copy's header, then checkpoints
    conn.close()
    return embedder


@dataclass
class DocumentRow:
    id: int
    path: str
    sha256: str
    doc_type: str
    mtime: float
    size: int
    n_chunks: int


@dataclass
class ChunkRow:
    """A chunk to store: text, its place in the source, and its unit-length embedding."""

    text: str
    char_start: int
    char_end: int
    page: int | None = None
    line_start: int | None = None
    line_end: int | None = None
    n_tokens: int = 0
    embedding: bytes = b""  # float32, little endian
    extra: dict = field(default_factory=dict)


def _connect(path: Path, *, create: bool):
    import apsw
    import sqlite_vec

    flags = apsw.SQLITE_OPEN_READWRITE | (apsw.SQLITE_OPEN_CREATE if create else 0)
    conn = apsw.Connection(str(path), flags=flags)
    conn.setbusytimeout(BUSY_TIMEOUT_MS)
    conn.enable_load_extension(True)
    conn.load_extension(sqlite_vec.loadable_path())
    conn.enable_load_extension(False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


class Collection:
    """An open collection. One connection per object; open one per process or thread."""

    def __init__(self, name: str, home=None, *, create: bool = False) -> None:
        self.conn = None  # closing a collection whose opening failed is a no-op
        self.name = check_name(name)
        self.path = collection_path(name, home)
        if not self.path.exists():
            if not create:
                raise CollectionNotFoundError(name, list_collections(home))
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            # owner only, before SQLite opens it (its -wal/-shm files take this mode)
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, 0o600))
        try:
            self.conn = _connect(self.path, create=create)
            self._init_schema()
        except SlmError:
            raise
        except Exception as err:  # apsw.NotADBError, CorruptError, ...
            raise StoreError(f"cannot open collection {name!r} at {self.path}: {err}",
                             hint=f"if the file is damaged, `slm rag drop {name}` and "
                                  "ingest again") from err

    # ---- schema and metadata ---------------------------------------------------------
    def _init_schema(self) -> None:
        if self.conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'chunks_fts'").fetchall():
            return  # readers never take the write lock
        with self.write():
            self.conn.execute(f"""
                CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
                CREATE TABLE IF NOT EXISTS documents(
                    id INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE, sha256 TEXT NOT NULL,
                    doc_type TEXT NOT NULL, mtime REAL NOT NULL, size INTEGER NOT NULL,
                    n_chunks INTEGER NOT NULL DEFAULT 0, ingested_at REAL NOT NULL);
                CREATE TABLE IF NOT EXISTS chunks(
                    id INTEGER PRIMARY KEY, doc_id INTEGER NOT NULL
                        REFERENCES documents(id) ON DELETE CASCADE,
                    ord INTEGER NOT NULL, text TEXT NOT NULL, char_start INTEGER NOT NULL,
                    char_end INTEGER NOT NULL, page INTEGER, line_start INTEGER,
                    line_end INTEGER, n_tokens INTEGER NOT NULL DEFAULT 0);
                CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc_id);
                CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(
                    text, content='chunks', content_rowid='id', tokenize='{FTS_TOKENIZER}');
                INSERT OR IGNORE INTO meta VALUES ('schema', '{SCHEMA}');
                INSERT OR IGNORE INTO meta VALUES ('generation', '0');
                """ + LOG_SCHEMA)
            self.conn.execute("INSERT OR IGNORE INTO meta VALUES ('created', ?)",
                              (str(time.time()),))

    def meta(self) -> dict[str, str]:
        return dict(self.conn.execute("SELECT key, value FROM meta").fetchall())

    @property
    def embedder(self) -> str | None:
        return self.meta().get("embedder")

    @property
    def dimension(self) -> int | None:
        d = self.meta().get("dimension")
        return int(d) if d else None

    def bind_embedder(self, name: str, dimension: int) -> None:
        """Record the embedder on first use; refuse a different one afterwards."""
        with self.write():
            m = self.meta()
            if "embedder" in m:
                if m["embedder"] != name or int(m["dimension"]) != dimension:
                    raise EmbedderMismatchError(
                        f"collection {self.name!r} was built with embedder {m['embedder']} "
                        f"({m['dimension']} dims), not {name} ({dimension} dims)",
                        hint=f"use --embedder {m['embedder']}, or `slm rag drop {self.name}` "
                             "and ingest again with the new embedder")
                return
            self.conn.execute("INSERT INTO meta VALUES ('embedder', ?), ('dimension', ?)",
                              (name, str(dimension)))
            self.conn.execute(f"CREATE VIRTUAL TABLE IF NOT EXISTS chunks_vec USING "
                              f"vec0(id INTEGER PRIMARY KEY, emb float[{int(dimension)}])")

    def check_embedder(self, name: str, dimension: int) -> None:
        m = self.meta()
        if "embedder" in m and (m["embedder"] != name or int(m["dimension"]) != dimension):
            raise EmbedderMismatchError(
                f"collection {self.name!r} was built with embedder {m['embedder']} "
                f"({m['dimension']} dims), not {name} ({dimension} dims)",
                hint=f"query with --embedder {m['embedder']}")

    # ---- transactions ------------------------------------------------------------------
    @contextmanager
    def write(self) -> Iterator[None]:
        """One write transaction, taken up front (``BEGIN IMMEDIATE``) so two writers queue
        on the busy timeout instead of failing on a lock upgrade."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield
            # readers' caches (the in-memory vector matrix) key on this counter
            self.conn.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 "
                              "WHERE key = 'generation'")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    @contextmanager
    def read(self) -> Iterator[None]:
        """A consistent snapshot for several SELECTs."""
        self.conn.execute("BEGIN")
        try:
            yield
        finally:
            self.conn.execute("COMMIT")

    # ---- documents -----------------------------------------------------------------------
    def documents(self) -> dict[str, DocumentRow]:
        rows = self.conn.execute("SELECT id, path, sha256, doc_type, mtime, size, n_chunks "
                                 "FROM documents").fetchall()
        return {r[1]: DocumentRow(*r) for r in rows}

    def replace_document(self, path: str, sha256: str, doc_type: str, mtime: float, size: int,
                         chunks: Sequence[ChunkRow]) -> int:
        """Delete ``path``'s old chunks and store the new ones. Call inside :meth:`write`."""
        self.delete_document(path)
        cur = self.conn.execute(
            "INSERT INTO documents(path, sha256, doc_type, mtime, size, n_chunks, ingested_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (path, sha256, doc_type, mtime, size, len(chunks), time.time()))
        doc_id = cur.fetchall()[0][0]
        for i, c in enumerate(chunks):
            cid = self.conn.execute(
                "INSERT INTO chunks(doc_id, ord, text, char_start, char_end, page, line_start,"
                " line_end, n_tokens) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (doc_id, i, c.text, c.char_start, c.char_end, c.page, c.line_start, c.line_end,
                 c.n_tokens)).fetchall()[0][0]
            self.conn.execute("INSERT INTO chunks_fts(rowid, text) VALUES (?, ?)", (cid, c.text))
            self.conn.execute("INSERT INTO chunks_vec(id, emb) VALUES (?, ?)", (cid, c.embedding))
        return doc_id

    def delete_document(self, path: str) -> bool:
        """Remove a document and its chunks (FTS and vectors too). Inside :meth:`write`."""
        row = self.conn.execute("SELECT id FROM documents WHERE path = ?", (path,)).fetchall()
        if not row:
            return False
        doc_id = row[0][0]
        has_vec = self._has_vec()
        for cid, text in self.conn.execute("SELECT id, text FROM chunks WHERE doc_id = ?",
                                           (doc_id,)).fetchall():
            self.conn.execute("INSERT INTO chunks_fts(chunks_fts, rowid, text) "
                              "VALUES ('delete', ?, ?)", (cid, text))
            if has_vec:
                self.conn.execute("DELETE FROM chunks_vec WHERE id = ?", (cid,))
        self.conn.execute("DELETE FROM chunks WHERE doc_id = ?", (doc_id,))
        self.conn.execute("DELETE FROM documents WHERE id = ?", (doc_id,))
        return True

    def _has_vec(self) -> bool:
        return bool(self.conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'chunks_vec'")
                    .fetchall())

    # ---- reading -------------------------------------------------------------------------
    def stats(self) -> dict:
        m = self.meta()
        n_docs = self.conn.execute("SELECT count(*) FROM documents").fetchall()[0][0]
        n_chunks = self.conn.execute("SELECT count(*) FROM chunks").fetchall()[0][0]
        size = sum(os.path.getsize(str(self.path) + s) for s in ("", "-wal")
                   if os.path.exists(str(self.path) + s))
        return {"name": self.name, "path": str(self.path), "documents": n_docs,
                "chunks": n_chunks, "embedder": m.get("embedder"),
                "dimension": int(m["dimension"]) if m.get("dimension") else None,
                "bytes": size}

    def chunk_rows(self, ids: Sequence[int]) -> dict[int, dict]:
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = self.conn.execute(
            f"SELECT c.id, c.text, d.path, c.page, c.line_start, c.line_end, d.doc_type "
            f"FROM chunks c JOIN documents d ON d.id = c.doc_id WHERE c.id IN ({marks})",
            tuple(ids)).fetchall()
        keys = ("id", "text", "path", "page", "line_start", "line_end", "doc_type")
        return {r[0]: dict(zip(keys, r, strict=True)) for r in rows}

    def vectors(self, ids: Sequence[int]) -> dict[int, bytes]:
        """Stored vectors by chunk id (one point lookup each: ``vec0`` scans the whole
        table for ``id IN (...)``)."""
        if not ids or not self._has_vec():
            return {}
        out = {}
        for cid in ids:
            row = self.conn.execute("SELECT emb FROM chunks_vec WHERE id = ?", (cid,)).fetchall()
            if row:
                out[cid] = row[0][0]
        return out

    def generation(self) -> int:
        """A counter every committed write increases (any process)."""
        row = self.conn.execute("SELECT value FROM meta WHERE key = 'generation'").fetchall()
        return int(row[0][0]) if row else 0

    def integrity_check(self) -> str:
        return self.conn.execute("PRAGMA integrity_check").fetchall()[0][0]

    def close(self) -> None:
        conn, self.conn = self.conn, None
        if conn is not None:
            conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

