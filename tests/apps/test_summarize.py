"""The summarizer on a scripted fake engine: faithfulness checks, action items, long
documents split on structure (map-reduce and refine, never cut silently), the piece cache,
and the HTTP app through create_app."""

from __future__ import annotations

import base64

from starlette.testclient import TestClient

from helpers.fake_engine import FakeLocal
from helpers.fake_server import fake_app, one_model
from helpers.mail_files import mbox_bytes
from slmkit.apps.documents import from_text
from slmkit.apps.summarize import PieceCache, SummaryOptions, summarize
from slmkit.apps.summarize.extractive import lead, textrank
from slmkit.apps.summarize.rouge import gold_recall, rouge
from slmkit.apps.text import detect_language, unsupported_numbers

DOC = """# Plan
Kim will send the report by Friday. The budget is 1,200 dollars.

## Risks
Please review the contract before 2024-03-05. Sales grew 12 percent in 2023.
"""
ANSWER = ("- Kim will send the report by Friday.\n- The budget is 1,500 dollars.\n"
          "- Aliens landed on the moon.")


def test_key_facts_have_spans_and_unsupported_things_are_flagged():
    r = summarize(from_text("plan.md", DOC), FakeLocal(answer=ANSWER))
    assert r["language"] == "en" and r["split"]["strategy"] == "single"
    [fact] = r["key_facts"]
    assert fact["source"] == "Kim will send the report by Friday."
    assert fact["location"]["line"] == 2
    flagged = {f["kind"]: f for f in r["flags"] if f["kind"] != "unsupported_claim"}
    claims = [f["text"] for f in r["flags"] if f["kind"] == "unsupported_claim"]
    assert "The budget is 1,500 dollars." in claims  # a number the source does not have
    assert "Aliens landed on the moon." in claims  # no supporting sentence
    assert flagged["unsupported_number"]["text"] == "1,500"
    actions = {a["task"]: a for a in r["action_items"]}
    assert actions["Kim will send the report by Friday."]["owner"] == "Kim"
    assert actions["Kim will send the report by Friday."]["due"] == "Friday"
    assert actions["Please review the contract before 2024-03-05."]["due"] == "2024-03-05"


def test_korean_numbers_dates_and_language():
    src = "매출은 1,200억 원으로 3월 5일 발표됐다. 직원 115일 근무."
    assert detect_language(src) == "ko"
    assert unsupported_numbers("매출 1200억 원, 3월 5일", src) == []
    assert unsupported_numbers("매출 1,300억 원, 3월 7일, 15일", src) == ["3월 7일", "15일",
                                                                     "1,300"]


def long_doc() -> str:
    paras = [f"Section {i}. " + " ".join(f"Fact {i}.{j} is about topic {i}." for j in range(12))
             for i in range(10)]
    return "\n\n".join(paras)


def test_long_documents_are_split_on_structure_and_reported():
    doc = from_text("long.txt", long_doc())
    for strategy, extra in (("map-reduce", 1), ("refine", 0)):
        engine = FakeLocal(n_ctx=400, answer="- Fact 3.1 is about topic 3.")
        r = summarize(doc, engine, SummaryOptions(max_words=20, strategy=strategy))
        split = r["split"]
        assert split["strategy"] == strategy and split["pieces"] > 1
        assert split["cut_in_sentence"] is False and "paragraphs" in split["levels"]
        assert max(split["piece_tokens"]) <= split["budget_tokens"]
        assert r["usage"]["calls"] >= split["pieces"] + extra
        prompts = "".join(req.messages[-1].content for req in engine.requests)
        for i in range(10):  # nothing dropped: every paragraph reached the model
            assert f"Fact {i}.11 is about topic {i}." in prompts


def test_a_sentence_longer_than_the_budget_is_cut_and_said_so():
    doc = from_text("one.txt", "word " * 600)
    r = summarize(doc, FakeLocal(n_ctx=400, answer="- word word"),
                  SummaryOptions(max_words=20))
    assert r["split"]["cut_in_sentence"] is True and r["split"]["pieces"] >= 2


def test_piece_cache_reruns_only_changed_pieces():
    cache, text = PieceCache(), long_doc()
    engine = FakeLocal(n_ctx=400, answer="- Fact 1.1 is about topic 1.")
    opts = SummaryOptions(max_words=20, strategy="map-reduce")
    first = summarize(from_text("d", text), engine, opts, cache=cache)
    edited = text.replace("Fact 9.11 is about topic 9.", "Fact 9.11 changed.")
    again = summarize(from_text("d", edited), engine, opts, cache=cache)
    assert again["usage"]["calls"] < first["usage"]["calls"]
    assert cache.hits >= first["split"]["pieces"] - 1


def test_extractive_baselines_and_korean_rouge():
    sents = ["지카바이러스가 남성의 생식능력을 떨어뜨린다.", "연구진은 쥐 실험 결과를 발표했다.",
             "날씨가 맑았다.", "지카바이러스 연구는 생식능력 저하를 보여준다."]
    assert lead(sents, 2) == [0, 1]
    assert 2 not in textrank(sents, 2)  # the off-topic sentence is least central
    same = rouge(sents[0], sents[0])
    assert same["rouge1"] == same["rouge2"] == same["rougeL"] == 1.0
    assert 0 < rouge(sents[3], sents[0])["rouge1"] < 1
    assert gold_recall(sents[0] + " " + sents[1], sents[:3]) == 2 / 3


def test_http_summarize_text_mail_and_errors():
    from slmkit.apps.summarize.handler import SummarizeApp
    from slmkit.serve import routes_apps
    from slmkit.serve.registry import engine_source

    loader = one_model("fake", answer=ANSWER)
    app, service = fake_app(loader, routers=[routes_apps.router])
    app.state.apps = {"summarize": SummarizeApp(engine_source(service.registry, "fake"))}
    with TestClient(app, base_url="http://127.0.0.1:8000") as c:
        r = c.post("/v1/apps/summarize", json={"text": DOC, "style": "bullets"})
        assert r.status_code == 200, r.text
        [res] = r.json()["results"]
        assert res["key_facts"][0]["location"]["line"] == 2
        docs = [{"name": "inbox.mbox", "content_base64": base64.b64encode(mbox_bytes()).decode()},
                {"name": "empty.txt", "text": "  "}]
        r = c.post("/v1/apps/summarize", json={"documents": docs, "stream": False})
        body = r.json()
        assert [x["meta"]["messages"] for x in body["results"]] == [3, 1]
        assert body["results"][0]["attachments"][0]["name"] == "budget.pdf"
        assert body["errors"] == [{"document": "empty.txt", "error": "the document is empty",
                                   "hint": None}]
        r = c.post("/v1/apps/summarize", json={"text": DOC, "style": "poem"})
        assert r.status_code == 400 and "style" in r.json()["error"]["message"]
        r = c.post("/v1/apps/summarize", json={"text": DOC, "documents": []})
        assert r.status_code == 400 and "exactly one" in r.json()["error"]["message"]


def test_openapi_document_matches_what_the_apps_accept():
    """GET /v1/apps/openapi.json describes each mounted app from its form: a body built
    from the schema's defaults is accepted, a value outside its enum is refused."""
    from slmkit.apps.review.handler import ReviewApp
    from slmkit.apps.summarize.handler import SummarizeApp
    from slmkit.serve import routes_apps
    from slmkit.serve.registry import engine_source

    loader = one_model("fake", answer=ANSWER)
    app, service = fake_app(loader, routers=[routes_apps.router])
    engines = engine_source(service.registry, "fake")
    app.state.apps = {"summarize": SummarizeApp(engines), "review": ReviewApp(engines)}
    with TestClient(app, base_url="http://127.0.0.1:8000") as c:
        spec = c.get("/v1/apps/openapi.json").json()
        assert spec["openapi"] == "3.1.0"
        assert {"/v1/apps", "/v1/apps/summarize", "/v1/apps/review"} <= set(spec["paths"])
        for name in ("summarize", "review"):
            body = spec["paths"][f"/v1/apps/{name}"]["post"]["requestBody"]
            schema = body["content"]["application/json"]["schema"]
            assert {"text", "documents", "stream"} <= set(schema["properties"])
            payload = {k: p["default"] for k, p in schema["properties"].items()
                       if "default" in p} | {"text": DOC}
            r = c.post(f"/v1/apps/{name}", json=payload)
            assert r.status_code == 200, (name, r.text)
            enum = next(k for k, p in schema["properties"].items() if "enum" in p)
            r = c.post(f"/v1/apps/{name}", json=payload | {enum: "no-such-choice"})
            assert r.status_code == 400 and enum in r.json()["error"]["message"]
        words = spec["paths"]["/v1/apps/summarize"]["post"]["requestBody"]["content"][
            "application/json"]["schema"]["properties"]["max_words"]
        assert (words["minimum"], words["maximum"]) == (10, 2000)
