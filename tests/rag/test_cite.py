"""Citations checked against the passages they name (issue 14 item 5), and the rag:NAME
model's answer budget and stop strings."""

from __future__ import annotations

from helpers.fake_engine import FakeLocal
from slmkit.core.retrieval import Passage
from slmkit.core.types import ChatMessage, GenerateRequest, collect
from slmkit.rag import answer as A
from slmkit.rag import cite
from slmkit.rag.engine import RagEngine
from slmkit.rag.runbooks import RUNBOOKS

QUESTION = "What should I do about printer error TN-3480?"


def _p(i, name):
    return Passage(i, RUNBOOKS[name], f"/kb/{name}", 1.0, 0.5, line_start=1, line_end=20)


def _answer(text, *names):
    ans = A.Answer(QUESTION, text, [_p(i, n) for i, n in enumerate(names, 1)])
    return A.finish(ans)


def test_a_citation_of_the_wrong_file_is_rejected_and_reassigned():
    # the trial: the right answer, citing the database runbook while the printer one is [1]
    ans = _answer("Wipe the gold contacts of the toner cartridge with a dry cloth and reseat "
                  "it [2].", "printer.md", "database.md")
    assert ans.rejected == [2]
    assert [c["source"] for c in ans.citations()] == ["/kb/printer.md"]
    assert ans.cited_by_model is False and ans.grounded is True
    assert ans.to_dict()["rejected_citations"] == [2]


def test_a_right_citation_is_kept_as_the_models():
    ans = _answer("Wipe the gold contacts and reseat the cartridge [2].", "database.md",
                  "printer.md")
    assert ans.cited == [2] and ans.cited_by_model and ans.grounded and not ans.rejected


def test_an_answer_no_passage_supports_is_not_grounded():
    ans = _answer("Reboot the router and call the vendor hotline [1].", "printer.md",
                  "database.md")
    assert not ans.grounded and ans.cited == [] and ans.rejected == [1]
    dont = _answer("I don't know [1].", "printer.md")
    assert not dont.grounded and dont.cited == []


def test_a_passage_without_the_questions_identifier_does_not_support():
    # both runbooks say "long running transaction"-like words; only one names the code
    shared = "Cancel the long running transaction shown by pg_stat_activity."
    q = "How do I handle DB-7731?"
    assert cite.support(shared, RUNBOOKS["database.md"], q) >= cite.SUPPORT
    assert cite.support(shared, RUNBOOKS["database.md"].replace("DB-7731", "DB-1111"), q) == 0


def test_words_the_question_holds_are_not_evidence():
    # restating the question finds the question's words anywhere: that proves nothing
    assert cite.key_terms("The printer error TN-3480 means wipe contacts", QUESTION) == {
        "means", "wipe", "conta"}


def test_rag_engine_bounds_the_answer_and_stops_at_pasted_sources():
    class _Retriever:
        def retrieve(self, query, k=5):
            return [_p(1, "printer.md"), _p(2, "database.md")]

    fake = FakeLocal(n_ctx=4096, answer="Wipe the gold contacts [1].")
    rag = RagEngine(fake, _Retriever(), name="rag:kb", threshold=0.1)
    out = collect(rag.generate(GenerateRequest(messages=[ChatMessage("user", QUESTION)],
                                               max_tokens=None)))
    inner = fake.requests[-1]
    assert inner.max_tokens == A.ANSWER_TOKENS
    assert "\n[1] (" in inner.stop and "\n[2] (" in inner.stop and "\nSources:" in inner.stop
    assert out.text.endswith("Sources: [1] printer.md:1-20"), out.text
