"""The offline router sets (code, reading, word problems, Korean): well formed, seeded, and
their answers right — the code snippets are run here and must print the recorded answer."""

from __future__ import annotations

import contextlib
import io
import re

import pytest

from slmkit.route import sets
from slmkit.route.evaluate import matches

GENERATED = ("code", "reading", "wordproblems", "korean")


@pytest.mark.parametrize("name", GENERATED)
def test_rows_are_seeded_and_well_formed(name):
    rows = sets.rows(name, 40, seed=3)
    assert rows == sets.rows(name, 40, seed=3)
    assert rows != sets.rows(name, 40, seed=4)
    assert len(rows) == 40
    for r in rows:
        assert len(r["choices"]) == 4 and len(set(r["choices"])) == 4
        assert 0 <= r["answer"] < 4
    assert len({r["level"] for r in rows}) >= 4  # every level is present


def test_code_answers_are_what_the_snippets_print():
    for r in sets.rows("code", 60, seed=0):
        snippet = re.search(r"```python\n(.*)\n```", r["question"], re.S).group(1)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(snippet, {})  # our own generated snippet, nothing from outside
        assert out.getvalue().strip() == r["choices"][r["answer"]], snippet


def test_word_problem_answers_follow_the_steps():
    for r in sets.rows("wordproblems", 40, seed=0):
        q = r["question"]
        total = int(re.match(r"\w+ has (\d+)", q).group(1))
        total += sum(int(k) for k in re.findall(r"buys (\d+) more", q))
        total -= sum(int(k) for k in re.findall(r"gives (\d+) away", q))
        total += sum(int(a) * int(b) for a, b in re.findall(r"gets (\d+) boxes with (\d+)", q))
        assert str(total) == r["choices"][r["answer"]]


def test_reading_answers_are_stated_in_the_passage():
    for r in sets.rows("reading", 40, seed=0):
        assert r["choices"][r["answer"]] in r["question"].split("Question:")[0]


def test_korean_particles_and_answers():
    assert sets._topic("민수") == "민수는" and sets._topic("하은") == "하은은"
    rows = sets.rows("korean", 40, seed=0)
    assert {r["subject"] for r in rows} == {"korean arithmetic", "korean capitals",
                                            "korean word problems", "korean reading"}
    assert all(re.search("[가-힣]", r["question"]) for r in rows)
    capital = next(r for r in rows if r["subject"] == "korean capitals")
    country = capital["question"].split("의 수도")[0]
    assert capital["choices"][capital["answer"]] == sets.KO_CAPITALS[country]


def test_korean_answers_match_with_particles_and_endings():
    assert matches("도쿄입니다.", "도쿄")
    assert matches("정답: 쿠알라 룸푸르", "쿠알라룸푸르")
    assert not matches("오사카입니다.", "도쿄")
    assert matches("남은 사과는 23개입니다.", "23")


def test_unknown_set_names_the_choices():
    with pytest.raises(ValueError, match="code.*wordproblems"):
        sets.rows("nope", 3)


def test_mmlu_chat_shows_lettered_choices_and_grades_the_letter():
    from slmkit.evaluate.datasets import ChoiceItem

    qs = [ChoiceItem(f"Question {i}?", ("red", "green", "blue", "black"), i % 4, "colours")
          for i in range(10)]
    rows = sets.rows("mmlu_chat", 6, 0, mmlu=lambda: qs)
    assert len(rows) == 6 and rows == sets.rows("mmlu_chat", 6, 0, mmlu=lambda: qs)
    r = rows[0]
    assert "\nA. red\nB. green\nC. blue\nD. black" in r["question"]
    letter = r["choices"][r["answer"]]
    assert letter == "ABCD"[r["answer"]]
    assert matches(f"{letter}. something", letter) and matches(f"Answer: {letter}", letter)
    assert not matches("A dog barks" if letter != "A" else "B. no", letter)
    with pytest.raises(ValueError, match="MMLU questions"):
        sets.rows("mmlu_chat", 3)
