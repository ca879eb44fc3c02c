"""One checklist field from a few clauses: ask the model for a value and the sentence that
states it, then keep the value only when that sentence is in the document verbatim (up to
whitespace and case) and contains the value. Anything else is "not found" — never a guess.

Two ways to ask, measured in ``benchmarks/review.py``: ``direct`` (one call, JSON schema
constrained decoding) and ``free`` (a free-text answer, then a constrained call that
extracts the JSON from it). Engines without grammar support get the free-text parse.
"""

from __future__ import annotations

import json
import re

from slmkit.apps import llm
from slmkit.apps.documents import Document
from slmkit.apps.text import words
from slmkit.core.apps import Masker
from slmkit.core.engine import Engine

SCHEMA = {"type": "object", "additionalProperties": False, "required": ["value", "evidence"],
          "properties": {"value": {"type": "string", "maxLength": 200},
                         "evidence": {"type": "string", "maxLength": 500}}}
NOT_FOUND = {"", "not found", "none", "n/a", "na", "unknown", "not stated", "없음", "찾을 수 없음",
             "해당 없음", "명시되지 않음"}
MIN_EVIDENCE = 8
SYSTEM = {"en": "You extract facts from contracts. Copy text exactly. If the clauses do not "
                "state the answer, say not found.",
          "ko": "계약서에서 사실을 추출합니다. 원문을 그대로 옮깁니다. 조항에 답이 없으면 "
                "not found라고 답합니다."}


def _prompt(question: str, context: str, lang: str, free: bool) -> str:
    if lang == "ko":
        how = ("값과, 그 값을 말하는 문장을 원문 그대로 쓰세요." if free else
               'JSON으로 답하세요: {"value": 값, "evidence": 값을 말하는 원문 문장 그대로}. '
               '없으면 {"value": "not found", "evidence": ""}.')
        return f"계약 조항:\n{context}\n\n질문: {question}\n{how}"
    how = ("Give the value, then quote the sentence that states it word for word." if free else
           'Answer in JSON: {"value": the value, "evidence": the sentence that states it, '
           'copied word for word}. If not stated: {"value": "not found", "evidence": ""}.')
    return f"Contract clauses:\n{context}\n\nQuestion: {question}\n{how}"


def parse_answer(text: str) -> tuple[str, str]:
    """``(value, evidence)`` from a model's JSON (or "Value: … Evidence: …" text)."""
    m = re.search(r"\{.*\}", text, re.S)
    if m:
        try:
            d = json.loads(m.group(0))
            if isinstance(d, dict):
                return str(d.get("value", "")).strip(), str(d.get("evidence", "")).strip()
        except json.JSONDecodeError:
            pass
    value = re.search(r"(?im)^\s*(?:value|값)\s*[:：]\s*(.+)$", text)
    evidence = re.search(r"(?ims)^\s*(?:evidence|quote|근거|문장)\s*[:：]\s*(.+)", text)
    quoted = re.findall(r"[\"“]([^\"”]{8,})[\"”]", text)
    first = text.strip().splitlines()[0] if text.strip() else ""
    ev = evidence.group(1).strip() if evidence else (max(quoted, key=len) if quoted else text)
    return (value.group(1).strip() if value else first), ev.strip().strip('"“”')


def ask_field(engine: Engine, question: str, context: str, lang: str, mode: str,
              calls: llm.Calls, masker: Masker | None = None) -> tuple[str, str]:
    """The model's ``(value, evidence)``, unmasked when ``masker`` masked the context."""
    sent = masker.mask(context) if masker else context
    system = SYSTEM["ko" if lang == "ko" else "en"]
    grammar = engine.info.capabilities.grammar
    if mode == "direct" and grammar:
        out = llm.ask(engine, system, _prompt(question, sent, lang, False), max_tokens=200,
                      calls=calls, json_schema=SCHEMA)
    else:
        out = llm.ask(engine, system, _prompt(question, sent, lang, True), max_tokens=160,
                      calls=calls)
        if grammar:
            extract = (f"{_prompt(question, sent, lang, False)}\n\nDraft answer:\n{out}")
            out = llm.ask(engine, system, extract, max_tokens=200, calls=calls,
                          json_schema=SCHEMA)
    value, evidence = parse_answer(out)
    if masker:
        value, evidence = masker.unmask(value), masker.unmask(evidence)
    return value, evidence


def verify(doc: Document, value: str, evidence: str) -> dict:
    """The field's result: found with its verbatim evidence and location, or not found
    with the reason."""
    if value.strip().lower().strip(".") in NOT_FOUND:
        return {"status": "not_found", "reason": "the model found no value"}
    if len(evidence.strip()) < MIN_EVIDENCE:
        return {"status": "not_found", "reason": "no evidence quoted", "proposed": value}
    loc = doc.find(evidence)
    if loc is None:
        return {"status": "not_found", "reason": "the quoted evidence is not in the document",
                "proposed": value}
    quote = doc.text[loc["start"]:loc["end"]]
    if not _supported(value, quote):
        return {"status": "not_found", "reason": "the value is not in its evidence",
                "proposed": value}
    return {"status": "found", "value": value.strip(), "evidence": quote, "location": loc}


def _supported(value: str, quote: str) -> bool:
    v, q = value.strip().lower(), quote.lower()
    if v and v in q:
        return True
    vw, qw = set(words(value)), set(words(quote))
    return bool(vw) and vw <= qw
