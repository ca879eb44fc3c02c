"""Ingest files into a collection: load → chunk → embed in batches → store.

Incremental: a file whose content hash is unchanged is skipped, a changed one is replaced,
and a file that was ingested from under one of the given folders but is gone now is removed.
Unreadable files are listed with the reason while the rest ingests. Documents are written
a group at a time, each group in one transaction.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from slmkit.rag.chunking import DEFAULT_OVERLAP, DEFAULT_SIZE, chunk_sections
from slmkit.rag.loaders import LoadError, Section, doc_type, load_bytes
from slmkit.rag.store import ChunkRow, Collection

Progress = Callable[[str, int, int], None]
# fan_out(work, shards) -> one result per shard, in order (e.g. Ray tasks: scale.ray_batch)
FanOut = Callable[[Callable, list], list]
#: ``chunker(path, data, embedder) -> [TextChunk]``: how a file is cut (default: its
#: loader's sections, cut by tokens); ``walker(paths, report) -> (files, folders walked)``:
#: which files a run reads (default :func:`find_files`). See ``rag/code.py``.
Chunker = Callable[[str, bytes, object], list]


@dataclass
class IngestReport:
    collection: str
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    failed: list[dict] = field(default_factory=list)  # {"path", "reason"}
    skipped: list[str] = field(default_factory=list)  # unsupported types found in folders
    chunks: int = 0
    tokens: int = 0
    seconds: float = 0.0
    embed_seconds: float = 0.0

    def to_dict(self) -> dict:
        d = dict(self.__dict__)
        d["chunks_per_second"] = round(self.chunks / self.seconds, 2) if self.seconds else 0.0
        return d

    def summary(self) -> str:
        """One line: files added/updated/unchanged/removed/failed, chunks and speed."""
        rate = self.chunks / self.seconds if self.seconds else 0
        return (f"{self.collection}: {len(self.added)} added, {len(self.updated)} updated, "
                f"{len(self.unchanged)} unchanged, {len(self.removed)} removed, "
                f"{len(self.failed)} failed · {self.chunks} chunks in {self.seconds:.1f} s "
                f"({rate:.0f} chunks/s; embedding {self.embed_seconds:.1f} s)")


@dataclass
class _Pending:
    path: str
    sha256: str
    kind: str
    mtime: float
    size: int
    chunks: list
    new: bool


def find_files(paths: Iterable[str | Path], report: IngestReport) -> tuple[list[Path], list[Path]]:
    """(files to ingest, folders walked). Hidden files and folders are skipped; files of an
    unsupported type inside folders are listed in ``report.skipped``; a named path that does
    not exist or has an unsupported type is a failure."""
    files, roots = [], []
    for raw in paths:
        p = Path(raw).expanduser()
        if p.is_dir():
            roots.append(p.resolve())
            for dirpath, dirnames, filenames in os.walk(p):
                dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
                for name in sorted(filenames):
                    f = Path(dirpath) / name
                    if name.startswith("."):
                        continue
                    (files if doc_type(f) else report.skipped).append(f if doc_type(f) else str(f))
        elif p.is_file():
            if doc_type(p):
                files.append(p)
            else:
                report.failed.append({"path": str(p), "reason":
                                      f"unsupported file type {p.suffix or '(none)'}"})
        else:
            report.failed.append({"path": str(p), "reason": "no such file or folder"})
    return list(dict.fromkeys(f.resolve() for f in files)), roots


def ingest(collection: Collection, paths: Sequence[str | Path], embedder, *,
           size: int = DEFAULT_SIZE, overlap: int = DEFAULT_OVERLAP, batch_size: int = 64,
           prune: bool = True, progress: Progress | None = None,
           fan_out: FanOut | None = None, make_embedder: Callable | None = None,
           shards: int = 4, chunker: Chunker | None = None, walker=None) -> IngestReport:
    """Ingest ``paths`` (files or folders) into ``collection`` with ``embedder``.

    With ``fan_out`` the files are read, chunked and embedded in ``shards`` parts by
    ``fan_out(work, parts)`` (each part opening its own embedder with the picklable
    ``make_embedder()``), then written here in file order: the collection is the same as a
    local run's."""
    t0 = time.perf_counter()
    report = IngestReport(collection.name)
    collection.bind_embedder(_embedder_name(embedder), int(embedder.dimension))
    if fan_out is not None and chunker is not None:
        raise ValueError("a custom chunker runs locally only: do not combine it with fan_out")
    files, roots = (walker or find_files)(paths, report)
    known = collection.documents()
    if fan_out is not None:
        _ingest_shards(collection, files, known, fan_out, make_embedder or (lambda: embedder),
                       (size, overlap, batch_size), shards, report)
        files_done = files
    else:
        files_done = _ingest_local(collection, files, known, embedder, size, overlap,
                                   batch_size, progress, report, chunker)
    if prune and roots:
        _prune(collection, roots, {str(f) for f in files_done}, known, report)
    refresh_indexes(collection)
    if progress:
        progress("ingest", len(files), len(files))
    report.seconds = time.perf_counter() - t0
    return report


def _ingest_local(collection, files, known, embedder, size, overlap, batch_size, progress,
                  report, chunker: Chunker | None = None) -> list[Path]:
    group: list[_Pending] = []
    n_group_chunks = 0
    for i, f in enumerate(files):
        if progress:
            progress("ingest", i, len(files))
        pending = _prepare(f, known, report, embedder, size, overlap, chunker)
        if pending is None:
            continue
        group.append(pending)
        n_group_chunks += len(pending.chunks)
        if n_group_chunks >= batch_size * 4:
            _flush(collection, group, embedder, batch_size, report)
            group, n_group_chunks = [], 0
    _flush(collection, group, embedder, batch_size, report)
    return files


def prepare_shard(paths: list[str], known_sha: dict[str, str], make_embedder: Callable,
                  params: tuple[int, int, int]) -> tuple[list, dict]:
    """Read, chunk and embed ``paths`` (one part of a fanned-out ingest; runs in a worker):
    ``([(pending, vectors), ...], report entries)``. ``known_sha``: stored files' hashes."""
    from types import SimpleNamespace

    size, overlap, batch_size = params
    embedder = make_embedder()
    report = IngestReport("")
    known = {k: SimpleNamespace(sha256=v) for k, v in known_sha.items()}
    done = []
    for path in paths:
        pending = _prepare(Path(path), known, report, embedder, size, overlap)
        if pending is not None:
            done.append((pending, _embed(embedder, [c.text for c in pending.chunks],
                                         batch_size)))
    return done, {"failed": report.failed, "unchanged": report.unchanged}


def _ingest_shards(collection, files, known, fan_out, make_embedder, params, shards,
                   report) -> None:
    n = max(1, min(shards, len(files)))
    parts = [[str(f) for f in files[i * len(files) // n:(i + 1) * len(files) // n]]
             for i in range(n)]
    known_sha = {k: v.sha256 for k, v in known.items()}
    results = fan_out(prepare_shard, [(p, known_sha, make_embedder, params) for p in parts])
    for done, entries in results:
        report.failed += entries["failed"]
        report.unchanged += entries["unchanged"]
        for pending, vectors in done:
            with collection.write():
                _write(collection, pending, vectors, report)


def ingest_texts(collection: Collection, documents: Sequence[dict], embedder, *,
                 size: int = DEFAULT_SIZE, overlap: int = DEFAULT_OVERLAP,
                 batch_size: int = 64) -> IngestReport:
    """Ingest in-memory documents ``{"name": "notes.md", "text": "..."}`` (the HTTP route)."""
    t0 = time.perf_counter()
    report = IngestReport(collection.name)
    collection.bind_embedder(_embedder_name(embedder), int(embedder.dimension))
    known = collection.documents()
    group = []
    for d in documents:
        name, text = str(d.get("name") or ""), d.get("text")
        if not name or not isinstance(text, str):
            report.failed.append({"path": name, "reason": "each document needs a name and text"})
            continue
        data = text.encode("utf-8")
        sha = hashlib.sha256(data).hexdigest()
        kind = doc_type(name) or "text"
        prev = known.get(name)
        if prev is not None and prev.sha256 == sha:
            report.unchanged.append(name)
            continue
        try:
            sections = load_bytes(name, data, kind)
        except LoadError as err:
            report.failed.append({"path": name, "reason": err.reason})
            continue
        group.append(_Pending(name, sha, kind, time.time(), len(data),
                              chunk_sections(sections, embedder, size=size, overlap=overlap),
                              prev is None))
        if sum(len(p.chunks) for p in group) >= batch_size * 4:  # commit as it goes, like
            _flush(collection, group, embedder, batch_size, report)  # files: a killed
            group = []  # server keeps what it finished
    _flush(collection, group, embedder, batch_size, report)
    refresh_indexes(collection)
    report.seconds = time.perf_counter() - t0
    return report


def refresh_indexes(collection: Collection, min_chunks: int | None = None) -> None:
    """Bring the index files next to a large collection up to date (the ANN index for
    dense search, the BM25 index), then prune the change log entries both hold."""
    from slmkit.rag import ann, changelog, lexical

    held = [x.seq for x in (ann.refresh(collection, min_chunks=min_chunks, prune=False),
                            lexical.refresh(collection, min_chunks=min_chunks, prune=False))
            if x is not None]
    upto = min(held, default=None)
    with collection.read():
        top = changelog.log_max(collection)
    if upto is None:
        upto = top  # a small collection: no index file needs the log
    if upto > changelog.pruned(collection):
        with collection.write():
            changelog.prune(collection, upto)


def _embedder_name(embedder) -> str:
    return str(embedder.name or type(embedder).__name__)


def _prepare(f: Path, known: dict, report: IngestReport, embedder, size: int,
             overlap: int, chunker: Chunker | None = None) -> _Pending | None:
    key = str(f)
    try:
        st = f.stat()
        data = f.read_bytes()
    except OSError as err:
        report.failed.append({"path": key, "reason": err.strerror or str(err)})
        return None
    sha = hashlib.sha256(data).hexdigest()
    prev = known.get(key)
    if prev is not None and prev.sha256 == sha:
        report.unchanged.append(key)
        return None
    try:
        if chunker is not None:
            chunks = chunker(key, data, embedder)
        else:
            sections: list[Section] = load_bytes(key, data)
            chunks = chunk_sections(sections, embedder, size=size, overlap=overlap)
    except LoadError as err:
        report.failed.append({"path": key, "reason": err.reason})
        return None
    if not chunks:
        report.failed.append({"path": key, "reason": "no text found"})
        return None
    return _Pending(key, sha, doc_type(f) or "text", st.st_mtime, st.st_size, chunks,
                    prev is None)


def _flush(collection: Collection, group: list[_Pending], embedder, batch_size: int,
           report: IngestReport) -> None:
    if not group:
        return
    texts = [c.text for p in group for c in p.chunks]
    t = time.perf_counter()
    vectors = _embed(embedder, texts, batch_size)
    report.embed_seconds += time.perf_counter() - t
    for c in (c for p in group for c in p.chunks):
        assert c.n_tokens <= embedder.max_tokens, "chunk over the embedder's limit"
    k = 0
    with collection.write():
        for p in group:
            _write(collection, p, vectors[k:k + len(p.chunks)], report)
            k += len(p.chunks)


def _write(collection: Collection, p: _Pending, vectors, report: IngestReport) -> None:
    rows = [ChunkRow(c.text, c.char_start, c.char_end, c.page, c.line_start, c.line_end,
                     c.n_tokens, vectors[i].tobytes()) for i, c in enumerate(p.chunks)]
    collection.replace_document(p.path, p.sha256, p.kind, p.mtime, p.size, rows)
    (report.added if p.new else report.updated).append(p.path)
    report.chunks += len(rows)
    report.tokens += sum(c.n_tokens for c in p.chunks)


def _embed(embedder, texts: list[str], batch_size: int):
    import numpy as np

    if hasattr(embedder, "embed_array"):
        # the chunker already counted every chunk with this tokenizer
        return embedder.embed_array(texts, check=False)
    out = []
    for i in range(0, len(texts), batch_size):
        out.extend(embedder.embed(texts[i: i + batch_size]))
    arr = np.asarray(out, dtype=np.float32).reshape(len(texts), -1)
    norms = np.linalg.norm(arr, axis=1, keepdims=True)
    return arr / np.maximum(norms, 1e-12)


def _prune(collection: Collection, roots: list[Path], seen: set[str], known: dict,
           report: IngestReport) -> None:
    gone = [path for path in known if path not in seen
            and any(_is_under(path, r) for r in roots) and not os.path.exists(path)]
    if not gone:
        return
    with collection.write():
        for path in gone:
            collection.delete_document(path)
            report.removed.append(path)


def _is_under(path: str, root: Path) -> bool:
    try:
        Path(path).relative_to(root)
        return True
    except ValueError:
        return False
