"""The ANN index next to a collection: recall against exact search, incremental add and
delete through the change log, rebuild of a missing, stale or foreign index."""

from __future__ import annotations

import numpy as np
import pytest

from slmkit.rag import ann
from slmkit.rag.retrieve import dense
from slmkit.rag.store import ChunkRow, Collection, drop_collection

DIM = 32
MIN = 50


def _vectors(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((20, DIM))
    x = centres[rng.integers(0, 20, n)] + 0.6 * rng.standard_normal((n, DIM))
    x = x.astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _add_doc(coll: Collection, path: str, vecs: np.ndarray) -> None:
    rows = [ChunkRow(f"{path} chunk {i}", 0, 1, embedding=v.tobytes())
            for i, v in enumerate(vecs)]
    with coll.write():
        coll.replace_document(path, path, "text", 0.0, 1, rows)


def _collection(home, n_docs: int = 30, per_doc: int = 20, seed: int = 0) -> Collection:
    coll = Collection("ann", home, create=True)
    coll.bind_embedder("random", DIM)
    vecs = _vectors(n_docs * per_doc, seed)
    for d in range(n_docs):
        _add_doc(coll, f"doc{d}", vecs[d * per_doc:(d + 1) * per_doc])
    return coll


def _recall(coll: Collection, index: ann.AnnIndex, k: int = 10, n_q: int = 40) -> float:
    hits = 0
    for q in _vectors(n_q, seed=99):
        exact = {c for c, _ in dense(coll, q.tobytes(), k)}
        found = {c for c, _ in ann.dense(coll, index, q.tobytes(), k)}
        hits += len(exact & found)
    return hits / (k * n_q)


def _ids(coll: Collection) -> set[int]:
    return {r[0] for r in coll.conn.execute("SELECT id FROM chunks_vec").fetchall()}


def _index_ids(index: ann.AnnIndex) -> set[int]:
    return {int(k) for k in index.index.keys}


def test_ann_matches_exact_search_and_scores_are_cosines(tmp_path):
    with _collection(tmp_path) as coll:
        index = ann.refresh(coll, min_chunks=MIN)
        assert index is not None and len(index) == 600
        assert _recall(coll, index) >= 0.95
        q = _vectors(1, seed=5)[0].tobytes()
        got, want = ann.dense(coll, index, q, 5), dense(coll, q, 5)
        assert got[0][0] == want[0][0]
        assert got[0][1] == pytest.approx(want[0][1], abs=1e-6)  # rescored on float vectors


def test_add_and_delete_keep_the_index_in_step(tmp_path):
    cache = ann.AnnCache(min_chunks=MIN)
    with _collection(tmp_path) as coll:
        ann.refresh(coll, min_chunks=MIN)
        assert _index_ids(cache.get(coll)) == _ids(coll)
        with coll.write():
            coll.delete_document("doc3")
        _add_doc(coll, "doc7", _vectors(25, seed=7))  # re-ingest of a changed file
        _add_doc(coll, "new", _vectors(10, seed=8))
        index = cache.get(coll)
        assert _index_ids(index) == _ids(coll)
        assert len(index) == 600 - 20 - 20 + 25 + 10
        assert _recall(coll, index) >= 0.95
        # a fresh process sees the saved file with the changes
        fresh = ann.AnnCache(min_chunks=MIN).get(coll)
        assert _index_ids(fresh) == _ids(coll)


def test_missing_stale_and_foreign_indexes_are_rebuilt(tmp_path):
    with _collection(tmp_path) as coll:
        ann.refresh(coll, min_chunks=MIN)
        index_path, meta_path, _ = ann.paths(coll)
        index_path.unlink()
        cache = ann.AnnCache(min_chunks=MIN)
        rebuilt = cache.get(coll)
        assert _index_ids(rebuilt) == _ids(coll)
        assert cache.get(coll) is rebuilt  # the pruned log is held: not rebuilt per query
        # an index file left from before later changes (the log was pruned past it)
        old = index_path.read_bytes(), meta_path.read_text()
        with coll.write():
            coll.delete_document("doc0")
        ann.refresh(coll, min_chunks=MIN)  # the writer prunes the log
        index_path.write_bytes(old[0])
        meta_path.write_text(old[1])
        assert _index_ids(ann.AnnCache(min_chunks=MIN).get(coll)) == _ids(coll)
        index_path.write_bytes(b"not an index")
        assert _index_ids(ann.AnnCache(min_chunks=MIN).get(coll)) == _ids(coll)
        foreign = index_path.read_bytes(), meta_path.read_text()
    drop_collection("ann", tmp_path)
    assert not index_path.exists()
    with _collection(tmp_path, n_docs=10, seed=3) as coll:
        index_path.write_bytes(foreign[0])  # the index of the dropped collection
        meta_path.write_text(foreign[1])
        assert _index_ids(ann.AnnCache(min_chunks=MIN).get(coll)) == _ids(coll)


def test_small_collections_use_exact_search(tmp_path):
    with _collection(tmp_path, n_docs=2) as coll:
        assert ann.refresh(coll, min_chunks=MIN) is None
        assert ann.AnnCache(min_chunks=MIN).get(coll) is None
        assert not ann.paths(coll)[0].exists()
        assert coll.conn.execute("SELECT count(*) FROM ann_log").fetchall()[0][0] == 0


def test_the_index_library_and_onnxruntime_load_in_either_order():
    import subprocess
    import sys

    for code in ("import usearch.index; import onnxruntime",
                 "import onnxruntime; import usearch.index"):  # usearch 2.26 crashed here
        assert subprocess.run([sys.executable, "-c", code]).returncode == 0, code
