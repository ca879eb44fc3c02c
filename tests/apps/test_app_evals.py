"""The app evaluations: the English summarization set (ACLSum papers read from the installed
``aclsum`` package, human-written summaries as the reference) and evaluation runs that
resume from their JSON-lines cache after an interruption."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers.fake_engine import FakeLocal
from slmkit.apps.review import ReviewOptions
from slmkit.apps.review.evaluate import documents, evaluate
from slmkit.apps.summarize import evaluate as ev

REVIEW_DATA = Path(__file__).resolve().parents[2] / "benchmarks" / "data" / "review"


def test_english_set_is_twenty_papers_with_written_summaries_and_highlights():
    papers = ev.load_named("en")
    assert len(papers) == ev.ACLSUM_DOCS == 20
    assert len({p.name for p in papers}) == 20
    for p in papers:
        assert p.written and p.reference == p.written  # ROUGE against the human summary
        assert p.gold and all(0 <= i < len(p.sentences) for i in p.gold)
        assert not any("\n" in s for s in p.sentences)  # one line = one sentence
    assert len(ev.load_named("en", limit=3)) == 3
    rows = list(ev.run_system(papers[:5], ev.baseline("lead3")))
    assert all(0 < r["rouge1"] < 1 for r in rows)  # English words, not 0 as for Hangul


def test_unknown_set_and_missing_korean_folder_say_what_to_do():
    with pytest.raises(ValueError, match="one of ko, en"):
        ev.load_named("fr")
    with pytest.raises(ValueError, match="ko-news-sum"):
        ev.load_named("ko")


def test_summary_run_resumes_from_its_cache(tmp_path):
    papers = ev.load_named("en", limit=3)
    calls = []

    def system(a):
        calls.append(a.name)
        return {"summary": a.sentences[0], "flags": []}

    cache = tmp_path / "rows" / "en.jsonl"
    first = list(ev.run_system(papers, system, cache=cache))
    assert calls == [p.name for p in papers]
    with cache.open("a") as f:
        f.write('{"article": "cut sho')  # an interrupted write
    again = list(ev.run_system(papers, system, cache=cache))
    assert len(calls) == 3 and again == first
    lines = cache.read_text().splitlines()
    cache.write_text("\n".join(lines[:2]) + "\n")  # the third article never finished
    third = list(ev.run_system(papers, system, cache=cache))
    assert calls[3:] == [papers[2].name]
    assert third[:2] == first[:2] and third[2]["summary"] == first[2]["summary"]


def test_review_evaluation_resumes_and_needs_no_engine_when_cached(tmp_path):
    engine = FakeLocal(n_ctx=4096, grammar=True,
                       schema_answer=json.dumps({"value": "not found", "evidence": ""}))
    cache = tmp_path / "review.jsonl"
    opts = ReviewOptions(extraction="free")
    names = [n for n, _ in documents(REVIEW_DATA)]
    first = evaluate(REVIEW_DATA, engine, opts, cache=cache, only=names[:2])
    assert first["documents"] == 2 and first["hallucinated"] == 0
    assert len(cache.read_text().splitlines()) == 2
    again = evaluate(REVIEW_DATA, None, opts, cache=cache, only=names[:2])
    assert again == first
    with pytest.raises(ValueError, match=names[2]):
        evaluate(REVIEW_DATA, None, opts, cache=cache, only=names[:3])
