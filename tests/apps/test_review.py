"""The reviewer: values only with verbatim evidence (never invented), clause retrieval per
field, risky clauses cited, checklists, and personal data masked before a remote upstream
(a real recording HTTP server) sees any text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers.fake_engine import FakeLocal
from helpers.upstream import Upstream
from slmkit.apps.documents import from_text, read_path
from slmkit.apps.review import ReviewOptions, load_checklist, review
from slmkit.apps.review.checklists import Field
from slmkit.apps.review.extract import parse_answer, verify
from slmkit.apps.review.clauses import ClauseIndex, clauses

DATA = Path(__file__).resolve().parents[2] / "benchmarks" / "data" / "review"
DATE = Field("effective_date", "On what date does the agreement take effect?",
             ("effective", "효력"))


def services():
    [doc] = read_path(DATA / "en-services.txt")
    return doc


def answer(value: str, evidence: str) -> FakeLocal:
    return FakeLocal(n_ctx=4096, grammar=True,
                     schema_answer=json.dumps({"value": value, "evidence": evidence}))


def test_value_with_verbatim_evidence_is_found_with_its_location():
    doc = services()
    r = review(doc, answer("March 1, 2025", "This Agreement takes effect on March 1, 2025."),
               [DATE])
    f = r["fields"]["effective_date"]
    assert f["status"] == "found" and f["value"] == "March 1, 2025"
    assert doc.text[f["location"]["start"]:f["location"]["end"]] == f["evidence"]
    assert f["location"]["line"] == 5 and f["source"] == "local"


@pytest.mark.parametrize("value,evidence,reason", [
    ("April 2, 2026", "This Agreement takes effect on April 2, 2026.", "not in the document"),
    ("April 2, 2026", "This Agreement takes effect on March 1, 2025.", "not in its evidence"),
    ("not found", "", "no value"),
    ("March 1, 2025", "", "no evidence"),
])
def test_invented_values_are_not_found(value, evidence, reason):
    r = review(services(), answer(value, evidence), [DATE])
    f = r["fields"]["effective_date"]
    assert f["status"] == "not_found" and reason in f["reason"] and "value" not in f


def test_free_text_answers_are_parsed_and_verified():
    assert parse_answer('Value: 60 days\nEvidence: "with 60 days\' written notice"') == (
        "60 days", "with 60 days' written notice")
    doc = from_text("c.txt", "5. Termination. Either party may terminate with 60 days' notice.")
    assert verify(doc, "60 days", "terminate with 60 days'  NOTICE")["status"] == "found"


def test_clauses_are_retrieved_per_field_in_both_languages():
    [ko] = read_path(DATA / "ko-service.txt")
    index = ClauseIndex(clauses(ko))
    law = load_checklist("contract")[2]
    assert any("대한민국 법률" in c.text for c in index.top(law.question, law.keywords, 2))
    engine = answer("not found", "")
    review(ko, engine, [law], ReviewOptions(k=2))
    prompt = engine.requests[-1].messages[-1].content
    assert "대한민국 법률" in prompt and "500만 원" not in prompt  # only the relevant clauses


def test_risky_clauses_are_cited():
    r = review(services(), answer("not found", ""), load_checklist("contract"))
    kinds = {x["kind"]: x for x in r["risks"]}
    assert kinds["auto_renewal"]["notice_days"] == 90
    assert "automatically renew" in kinds["auto_renewal"]["clause"]
    assert "sole discretion" in kinds["unilateral_change"]["clause"]
    assert "missing_liability_cap" in kinds  # the fake found no cap
    [ko] = read_path(DATA / "ko-nda.txt")
    assert "unilateral_change" in {x["kind"] for x in review(ko, answer("not found", ""),
                                                              [DATE])["risks"]}


def test_custom_checklist_yaml(tmp_path):
    p = tmp_path / "mine.yaml"
    p.write_text("fields:\n  - name: deposit\n    question: How much is the deposit?\n"
                 "    keywords: [deposit, 보증금]\n")
    assert load_checklist(str(p)) == [Field("deposit", "How much is the deposit?",
                                            ("deposit", "보증금"))]
    with pytest.raises(ValueError, match="checklist"):
        load_checklist("lease")


@pytest.fixture(scope="module")
def upstream():
    server = Upstream()
    yield server
    server.stop()


def test_personal_data_never_reaches_the_upstream(upstream):
    from slmkit.guard.session import MaskSession
    from slmkit.runtime.remote import RemoteEngine

    upstream.reset()
    [doc] = read_path(DATA / "ko-service.txt")
    planted = ["010-2345-6789", "minsu.kim@hanbitsoft.co.kr", "850315-1234567"]
    with RemoteEngine(upstream.url, model="big-model") as remote:
        r = review(doc, answer("not found", ""), load_checklist("contract"),
                   ReviewOptions(mode="stuff"), upstream=remote, masker=MaskSession)
    bodies = upstream.recording.bodies()
    assert len(bodies) == len(load_checklist("contract"))  # every field was handed off
    assert not [p for p in planted for b in bodies if p in b]  # leak count 0
    assert any("<PHONE_1>" in b for b in bodies)
    assert r["handed_off"] == [] and all(f["status"] == "not_found"
                                         for f in r["fields"].values())


def test_report_can_be_masked():
    from slmkit.guard.session import MaskSession

    [doc] = read_path(DATA / "ko-service.txt")
    ev = "담당자: 김민수 (010-2345-6789, minsu.kim@hanbitsoft.co.kr, 주민등록번호 850315-1234567)"
    f = Field("contact", "Who is the contact?", ("담당자",))
    plain = review(doc, answer("010-2345-6789", ev), [f])
    assert plain["fields"]["contact"]["value"] == "010-2345-6789"
    masked = review(doc, answer("010-2345-6789", ev), [f], ReviewOptions(mask_report=True),
                    masker=MaskSession)
    assert masked["fields"]["contact"]["value"] == "<PHONE_1>" and masked["masked"]
    assert "850315-1234567" not in json.dumps(masked, ensure_ascii=False)


def test_leak_count_catches_what_the_masker_lets_through():
    from slmkit.apps.review.evaluate import evaluate, leak_count
    from slmkit.guard.session import MaskSession

    class Unmasked:
        mask = unmask = staticmethod(lambda text: text)

    assert leak_count(DATA, Unmasked)["pii_leaks"] == 12  # the counter sees every value
    r = leak_count(DATA, MaskSession)
    assert r["pii_planted"] == 12 and r["per_document"]["ko-service.txt"] == {
        "pii_planted": 4, "pii_leaks": 0, "pii_leaked": [], "upstream_requests": 9}
    assert r["per_document"]["en-supply.txt"]["pii_leaks"] == 0  # sort code + account number
    # an English name after a label the guard does not know needs NER (Presidio) to be found
    assert set(r["per_document"]["en-services.txt"]["pii_leaked"]) <= {"Jane Miller"}
    scored = evaluate(DATA, answer("not found", ""), ReviewOptions(), only=["ko-supply.txt"],
                      masker=MaskSession)
    assert (scored["pii_planted"], scored["pii_leaks"]) == (3, 0)
