"""The BM25 index next to a large collection: FTS5's own ranking, kept in step with adds
and deletes through the change log, rebuilt when missing, stale, foreign or damaged."""

from __future__ import annotations

import numpy as np
import pytest

from slmkit.rag import lexical
from slmkit.rag.ingest import refresh_indexes
from slmkit.rag.retrieve import bm25, search
from slmkit.rag.store import ChunkRow, Collection, drop_collection

MIN = 50
# stems (running/runs/runner), diacritics (café), identifiers (ERR-4012), a Zipf-like mix
WORDS = ["alpha", "beta", "gamma", "delta", "running", "runs", "runner", "ERR-4012", "café",
         "cafe", "zeta", "eta", "theta", "iota", "kappa", "lambda", "mu", "nu", "xi", "omicron"]
QUERIES = ["alpha", "running xi", "omicron nu", "ERR-4012 failed", "Café beta", "runner",
           "alpha beta gamma delta omicron", "the", "zzz unknown", "iota iota kappa"]


def _text(rng) -> str:
    p = np.arange(len(WORDS), 0, -1, dtype=float)
    return " ".join(rng.choice(WORDS, int(rng.integers(0, 30)), p=p / p.sum()))


def _add_doc(coll: Collection, path: str, n: int, rng) -> None:
    rows = [ChunkRow(_text(rng), 0, 1, embedding=rng.standard_normal(4).astype(
        np.float32).tobytes()) for _ in range(n)]
    with coll.write():
        coll.replace_document(path, path, "text", 0.0, 1, rows)


def _collection(home, n_docs: int = 20, per_doc: int = 20, seed: int = 0) -> Collection:
    coll = Collection("lex", home, create=True)
    coll.bind_embedder("random", 4)
    rng = np.random.default_rng(seed)
    for d in range(n_docs):
        _add_doc(coll, f"doc{d}", per_doc, rng)
    return coll


def _same_as_fts5(coll: Collection, index: lexical.LexIndex, n: int = 15) -> None:
    """Scores equal to FTS5's to 1e-6 (float32 term weights); the order too, except among
    scores that tie to that precision (FTS5 leaves ties in no particular order)."""
    for q in QUERIES:
        want, got = bm25(coll, q, n), bm25(coll, q, n, index=index)
        assert len(got) == len(want), q
        assert [s for _, s in got] == pytest.approx([s for _, s in want], rel=1e-6, abs=1e-12)
        scores = [s for _, s in want]
        for (w, s), (g, _) in zip(want, got, strict=True):
            tied = sum(1 for x in scores if abs(x - s) <= 1e-6 * s)
            if tied == 1 and s > 1e-5:  # the 1e-6 idf floor ties whole lists
                assert w == g, (q, want, got)


def test_the_index_ranks_as_fts5_does(tmp_path):
    with _collection(tmp_path) as coll:
        index = lexical.refresh(coll, min_chunks=MIN)
        assert index is not None and len(index) == 400
        _same_as_fts5(coll, index)
        _same_as_fts5(coll, index, n=400)  # past the MaxScore cut: every match
        # FTS5's own tokenizer: stems, folded diacritics, an identifier as two words
        assert lexical.query_tokens(coll.conn, [["runs"], ["running"], ["café"], ["err", "4012"]]
                                    ) == [["run"], ["run"], ["cafe"], ["err", "4012"]]


def test_adds_and_deletes_are_seen_then_merged_into_the_file(tmp_path):
    cache = lexical.LexCache(min_chunks=MIN)
    rng = np.random.default_rng(1)
    with _collection(tmp_path) as coll:
        lexical.refresh(coll, min_chunks=MIN)
        assert cache.get(coll) is not None
        with coll.write():
            coll.delete_document("doc3")
        _add_doc(coll, "doc7", 25, rng)  # re-ingest of a changed file: delete + add
        _add_doc(coll, "new", 10, rng)
        index = cache.get(coll)
        assert index.dead is not None and index.extra is not None  # held apart, in memory
        assert len(index) == 400 - 20 - 20 + 25 + 10
        _same_as_fts5(coll, index)
        fresh = lexical.LexCache(min_chunks=MIN).get(coll)  # another process: same view
        _same_as_fts5(coll, fresh)
        refresh_indexes(coll, min_chunks=MIN)  # the writer merges and prunes the log
        merged = lexical.load(coll)
        assert merged.dead is None and merged.extra is None and len(merged) == 395
        _same_as_fts5(coll, merged)
        assert coll.conn.execute("SELECT count(*) FROM ann_log").fetchall()[0][0] == 0


def test_missing_stale_foreign_and_damaged_files_are_rebuilt(tmp_path):
    with _collection(tmp_path) as coll:
        lexical.refresh(coll, min_chunks=MIN)
        path = lexical.paths(coll)[0]
        refresh_indexes(coll, min_chunks=MIN)  # the log is now empty, and pruned
        path.unlink()
        cache = lexical.LexCache(min_chunks=MIN)
        rebuilt = cache.get(coll)
        _same_as_fts5(coll, rebuilt)
        assert cache.get(coll) is rebuilt  # holds every change: not rebuilt at each query
        old = path.read_bytes()
        with coll.write():
            coll.delete_document("doc0")
        refresh_indexes(coll, min_chunks=MIN)  # the log is pruned past the old file
        path.write_bytes(old)
        index = lexical.LexCache(min_chunks=MIN).get(coll)
        assert len(index) == 380
        _same_as_fts5(coll, index)
        for junk in (b"not an index", old[:100]):
            path.write_bytes(junk)
            _same_as_fts5(coll, lexical.LexCache(min_chunks=MIN).get(coll))
        foreign = path.read_bytes()
    drop_collection("lex", tmp_path)
    assert not path.exists()
    with _collection(tmp_path, n_docs=5, seed=3) as coll:
        path.write_bytes(foreign)  # the file of the dropped collection
        index = lexical.LexCache(min_chunks=MIN).get(coll)
        assert len(index) == 100
        _same_as_fts5(coll, index)


def test_small_collections_keep_fts5(tmp_path):
    with _collection(tmp_path, n_docs=2) as coll:
        assert lexical.refresh(coll, min_chunks=MIN) is None
        assert lexical.LexCache(min_chunks=MIN).get(coll) is None
        assert not lexical.paths(coll)[0].exists()


def test_search_uses_the_index_and_gives_fts5_results(tmp_path, monkeypatch):
    class Fixed:
        name, dimension = "random", 4

        def embed(self, texts):
            return [np.ones(4, dtype=np.float32) / 2 for _ in texts]

    with _collection(tmp_path) as coll:
        want = search(coll, Fixed(), "omicron xi", k=5, mode="bm25")
        refresh_indexes(coll, min_chunks=MIN)
        monkeypatch.setattr(lexical, "LEX", lexical.LexCache(min_chunks=MIN))
        got = search(coll, Fixed(), "omicron xi", k=5, mode="bm25")
        assert lexical.LEX.get(coll) is not None
        assert [p.score for p in got] == pytest.approx([p.score for p in want], rel=1e-6)


def test_dense_rows_of_common_terms_rank_as_fts5_does(tmp_path, monkeypatch):
    from slmkit.rag import postings

    monkeypatch.setattr(postings, "DENSE_MIN_SIZE", 0)  # dense rows in a small collection
    with _collection(tmp_path) as coll:
        index = lexical.refresh(coll, min_chunks=MIN)
        assert len(index.base.dense_terms) >= 3  # "alpha", "beta", … are in most chunks
        _same_as_fts5(coll, index)
        _same_as_fts5(coll, index, n=400)
        _same_as_fts5(coll, lexical.load(coll))  # read back from the file


def test_index_files_are_readable_by_their_owner_only(tmp_path):
    from slmkit.rag import ann

    with _collection(tmp_path) as coll:
        refresh_indexes(coll, min_chunks=MIN)
        for path in (lexical.paths(coll)[0], ann.paths(coll)[0]):
            assert path.exists() and path.stat().st_mode & 0o077 == 0, path
