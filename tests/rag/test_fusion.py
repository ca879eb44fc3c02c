"""Query-adaptive hybrid fusion: the weights it picks, and hybrid never below the best of
its two parts on the test corpus and the runbook set (issue 21)."""

from __future__ import annotations

import pytest

from slmkit.rag import fusion
from slmkit.rag.evaluate import load_qa, retrieval_metrics
from slmkit.rag.ingest import ingest
from slmkit.rag.retrieve import search
from slmkit.rag.runbooks import write_runbooks
from slmkit.rag.store import Collection


def test_weights_follow_the_query():
    assert fusion.lexical_weight("ERR-4012", "", has_identifier=True) == fusion.IDENTIFIER_WEIGHT
    text = "The hydraulic pump overheats after an hour of load."
    assert fusion.lexical_weight("hydraulic pump overheats", text, has_identifier=False) \
        == fusion.MAX_WEIGHT
    assert fusion.lexical_weight("my machine gets too hot", text, has_identifier=False) \
        == fusion.MIN_WEIGHT


def test_convex_fusion_keeps_a_strong_lexical_hit_first():
    dense = [(1, 0.52), (2, 0.50), (3, 0.20)]
    bm25 = [(3, 14.0), (1, 2.0)]
    assert fusion.fuse(dense, bm25, "q", method="rrf")[0][0] == 1  # rank fusion: 1 wins
    assert [c for c, _ in fusion.convex(dense, bm25, 0.9)][:1] == [3]
    assert [c for c, _ in fusion.convex(dense, bm25, 0.1)][:1] == [1]
    assert fusion.fuse([], bm25, "q") == bm25 and fusion.fuse(dense, [], "q") == dense
    with pytest.raises(ValueError, match="fusion must be one of"):
        fusion.fuse(dense, bm25, "q", method="max")


def _never_loses(metrics: dict) -> None:
    best = {m: max(metrics["dense"][m], metrics["bm25"][m]) for m in ("hit@5", "mrr@10")}
    got = {m: metrics["hybrid"][m] for m in best}
    assert all(got[m] >= best[m] for m in best), (got, metrics["dense"], metrics["bm25"])


def _metrics(coll, embedder, qa):
    return {mode: retrieval_metrics(lambda q, n, m=mode: search(coll, embedder, q, k=n, mode=m),
                                    qa, k=5) for mode in ("hybrid", "dense", "bm25")}


def test_hybrid_is_at_least_the_best_part_on_the_synthetic_set(corpus, embedder):
    home, c = corpus
    with Collection("qa", home) as coll:
        _never_loses(_metrics(coll, embedder, load_qa(c.qa_path)))


def test_hybrid_is_at_least_the_best_part_on_paraphrased_runbook_questions(tmp_path,
                                                                           embedder):
    docs, qa = write_runbooks(tmp_path)
    with Collection("runbooks", tmp_path / "home", create=True) as coll:
        ingest(coll, [docs], embedder)
        m = _metrics(coll, embedder, load_qa(qa))
    assert m["dense"]["by_kind"]["runbook-paraphrase"]["mrr@10"] > \
        m["bm25"]["by_kind"]["runbook-paraphrase"]["mrr@10"]  # the set needs the embedder
    _never_loses(m)
