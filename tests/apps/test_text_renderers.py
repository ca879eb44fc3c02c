"""The apps' plain-text renderers (what `slm summarize`, `slm review` and `slm chat` use)."""

from __future__ import annotations

import json

from slmkit.apps.review.checklists import load_checklist
from slmkit.apps.review.text import review_text, write_schema
from slmkit.apps.summarize.text import scores_text, summary_text


def test_summary_text_lists_actions_facts_flags():
    r = {"document": "d.txt", "language": "en", "summary": "S.",
         "split": {"strategy": "map-reduce", "pieces": 2, "levels": ["paragraph"]},
         "action_items": [{"task": "send", "owner": "Al", "due": None,
                           "location": {"line": 2}}],
         "key_facts": [{"fact": "f", "source": "src", "location": {"line": 3}}],
         "flags": [{"kind": "unsupported_number", "text": "9", "note": "n"}],
         "attachments": []}
    assert summary_text(r).splitlines() == [
        "== d.txt (en, map-reduce over 2 pieces by paragraph) ==", "S.", "",
        "Action items:", "  - send  [owner: Al]  (line 2)", "Key facts:",
        "  - f  <- line 3: \"src\"", "  ! unsupported_number: 9 (n)"]


def test_scores_text_has_one_row_per_system():
    m = {"rouge1": 0.5, "rouge2": 0.25, "rougeL": 0.4, "gold_recall": 0.5, "chars": 120,
         "unsupported_numbers": 0.0, "seconds": 1.5}
    lines = scores_text("data", 3, {"lead3": m}).splitlines()
    assert lines[0] == ("3 articles from data (ROUGE F over Kiwi morphemes for Korean, "
                        "words for English)")
    assert lines[2].split() == ["lead3", "0.500", "0.250", "0.400", "0.50", "120", "0.00",
                                "1.50"]


def test_review_text_marks_upstream_and_schema_names_fields(tmp_path):
    r = {"document": "c.txt", "language": "en", "mode": "retrieve", "extraction": "direct",
         "fields": {"term": {"status": "found", "value": "2y", "evidence": "two years",
                             "location": {"line": 4}, "source": "upstream"},
                    "law": {"status": "not_found", "reason": "no evidence quoted"}},
         "risks": [{"kind": "auto_renewal", "why": "renews", "location": None,
                    "clause": "renews"}]}
    assert review_text(r).splitlines() == [
        "== c.txt (en, retrieve, direct) ==", "  term: 2y [upstream]",
        "      \"two years\" (line 4)", "  law: not found (no evidence quoted)",
        "  ! auto_renewal: renews", "      \"renews\""]
    path = tmp_path / "schema.json"
    checklist = load_checklist("nda")
    write_schema(str(path), checklist)
    props = json.loads(path.read_text())["properties"]
    assert list(props) == [f.name for f in checklist]
