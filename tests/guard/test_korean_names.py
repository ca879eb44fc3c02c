"""Korean personal names in context (issue 14): recognized, masked, and not over-matched."""

from __future__ import annotations

from pathlib import Path

import pytest

from slmkit.guard import Guard, Policy, Scanner, Vault
from slmkit.guard.evaluate import evaluate_names, name_samples

DATA = Path(__file__).parent / "data" / "korean_names.jsonl"


def people(text: str) -> list[str]:
    return [f.value(text) for f in Scanner(ner=False).scan(text) if f.entity == "PERSON"]


@pytest.mark.parametrize("text, name", [
    ("홍길동 과장이 보고서를 올렸습니다.", "홍길동"),          # title without 님
    ("김철수 대표와 미팅", "김철수"),
    ("담당자 김철수 010-1234-5678", "김철수"),                # next to a phone number
    ("연락처 010-1234-5678 (홍길동)", "홍길동"),
    ("감사합니다.\n홍길동 드림", "홍길동"),                   # signature
    ("감사합니다.\n\n김철수\n개발팀 | 010-2222-3333", "김철수"),
    ("제 이름은 홍길동입니다.", "홍길동"),
    ("Name: 김철수", "김철수"),
])
def test_korean_names_in_context(text, name):
    assert people(text) == [name]


@pytest.mark.parametrize("text", [
    "정기 이사회가 열립니다.", "이번 과장 회의는 취소되었습니다.", "신임 팀장 발표",
    "문의 010-1234-5678", "김치찌개 맛집", "감사합니다.\n\n회의록\n첨부를 확인하세요.",
    "저는 정말 기뻐요.",
])
def test_words_that_start_with_a_surname_are_not_names(text):
    assert people(text) == []


def test_masking_round_trip_of_a_korean_name():
    guard, vault = Guard(Policy.parse("")), Vault()
    sent = guard.protect("홍길동 과장님께 010-1234-5678로 연락 주세요", vault).text
    assert "홍길동" not in sent and "<PERSON_1>" in sent
    assert guard.unmask(sent, vault).startswith("홍길동 과장님께")


def test_labelled_set_recall_and_false_positives():
    result = evaluate_names(name_samples(DATA), Scanner(ner=False))
    assert result["names"] >= 40 and result["name_free_texts"] >= 40
    assert result["recall"] >= 0.9, result["missed"]
    assert result["false_positive_rate"] <= 0.05
