"""One writer and two readers in separate processes on one collection file: readers never
fail or see a half-written document, and the file passes integrity_check afterwards."""

from __future__ import annotations

import multiprocessing as mp
import random
import time

import numpy as np

DIM = 32
CHUNKS_PER_DOC = 5


def _vec(rng) -> bytes:
    v = np.asarray([rng.gauss(0, 1) for _ in range(DIM)], dtype=np.float32)
    return (v / np.linalg.norm(v)).tobytes()


def _writer(home: str, rounds: int, reads, out) -> None:
    """Replace every document ``rounds`` times; halfway, wait until each reader has read
    again, so reads provably happen while the writer is busy (no timing involved)."""
    from slmkit.rag.store import ChunkRow, Collection

    rng = random.Random(1)
    try:
        _wait_for(lambda: all(n.value > 0 for n in reads))  # both readers are reading
        with Collection("shared", home) as coll:
            for r in range(rounds):
                if r == rounds // 2:
                    seen = [n.value for n in reads]
                    _wait_for(lambda: all(n.value > s for n, s in zip(reads, seen)))
                with coll.write():
                    for d in range(4):
                        rows = [ChunkRow(f"round {r} document {d} chunk {c} token ERR-{d}{c}",
                                         0, 10, embedding=_vec(rng))
                                for c in range(CHUNKS_PER_DOC)]
                        coll.replace_document(f"/docs/d{d}.txt", f"sha{r}", "text", 0.0, 10, rows)
        out.put(("writer", rounds, None))
    except Exception as err:  # noqa: BLE001 - reported to the test
        out.put(("writer", 0, repr(err)))


def _wait_for(check, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout  # a hang guard, not a timing claim
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError("the other processes made no progress")
        time.sleep(0.001)


def _reader(home: str, count, done, out) -> None:
    """Read (and check) the collection until the writer is done, then once more."""
    from slmkit.rag.retrieve import bm25, dense
    from slmkit.rag.store import Collection

    rng = random.Random(2)
    err = None
    try:
        with Collection("shared", home) as coll:
            while True:
                last = done.is_set()
                with coll.read():
                    per_doc = coll.conn.execute(
                        "SELECT doc_id, count(*) FROM chunks GROUP BY doc_id").fetchall()
                    assert all(c == CHUNKS_PER_DOC for _, c in per_doc), per_doc
                    hits = bm25(coll, "document ERR-21", 5)
                    assert len(hits) > 0
                    assert len(dense(coll, _vec(rng), 5)) == 5
                with count.get_lock():
                    count.value += 1
                if last:
                    break
    except Exception as e:  # noqa: BLE001
        err = repr(e)
    out.put(("reader", count.value, err))


def test_writer_and_readers_in_separate_processes(tmp_path):
    from slmkit.rag.store import ChunkRow, Collection

    with Collection("shared", tmp_path, create=True) as coll:
        coll.bind_embedder("test-vectors", DIM)
        rng = random.Random(0)
        with coll.write():
            for d in range(4):
                coll.replace_document(f"/docs/d{d}.txt", "sha", "text", 0.0, 10,
                                      [ChunkRow(f"start document {d} chunk {c} ERR-{d}{c}", 0, 10,
                                                embedding=_vec(rng))
                                       for c in range(CHUNKS_PER_DOC)])
    ctx = mp.get_context("spawn")
    out, done = ctx.Queue(), ctx.Event()
    reads = [ctx.Value("i", 0) for _ in range(2)]
    writer = ctx.Process(target=_writer, args=(str(tmp_path), 150, reads, out))
    procs = [writer] + [ctx.Process(target=_reader, args=(str(tmp_path), n, done, out))
                        for n in reads]
    for p in procs:
        p.start()
    first = out.get(timeout=300)  # the writer finishes first: the readers wait for `done`
    done.set()
    results = [first] + [out.get(timeout=120) for _ in procs[1:]]
    for p in procs:
        p.join(timeout=30)
        assert p.exitcode == 0
    errors = [r for r in results if r[2]]
    assert not errors, errors
    assert [r[0] for r in results] == ["writer", "reader", "reader"], results
    assert all(n >= 3 for role, n, _ in results if role == "reader"), results  # see _writer
    with Collection("shared", tmp_path) as coll:
        assert coll.integrity_check() == "ok"
        stats = coll.stats()
        assert stats["documents"] == 4 and stats["chunks"] == 4 * CHUNKS_PER_DOC
        vec_rows = coll.conn.execute("SELECT count(*) FROM chunks_vec").fetchall()[0][0]
        assert vec_rows == 4 * CHUNKS_PER_DOC
        assert coll.conn.execute("INSERT INTO chunks_fts(chunks_fts) VALUES('integrity-check')"
                                 ).fetchall() == []
        texts = {t for (t,) in coll.conn.execute("SELECT text FROM chunks").fetchall()}
        assert all(t.startswith("round 149 ") for t in texts)
