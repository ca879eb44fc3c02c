"""`slm route eval`'s library side: items in each prompt format, training outcomes."""

from __future__ import annotations

from types import SimpleNamespace

from slmkit.route import evaluate as rev

Q = [SimpleNamespace(question=f"What is {i} + 1?", choices=[str(i + 1), "0", "7"], answer=0)
     for i in range(6)]


def test_items_in_each_format():
    gen = rev.choice_items(Q, "generate", letter_prompt=lambda c: "unused")
    assert gen[2].chat and gen[2].target == "3" and "What is 2 + 1?" in gen[2].prompt
    chat = rev.choice_items(Q, "chat", letter_prompt=lambda c: "unused")
    assert chat[0].chat and "A. 1" in chat[0].prompt and chat[0].target is None
    comp = rev.choice_items(Q, "completion", letter_prompt=lambda c: c.question + " Answer:")
    assert not comp[0].chat and comp[0].prompt == "What is 0 + 1? Answer:"
    assert all(i.n_choices == 3 and i.answer == 0 for i in comp)


def test_training_outcomes_mark_hard_where_only_the_strong_model_is_right():
    items = rev.choice_items(Q, "chat", letter_prompt=str)
    weak = [rev.Answer(0 if i % 2 else 1, 0.9, ()) for i in range(6)]  # right on odd items
    strong = [rev.Answer(0, 0.9, ()) for _ in range(6)]
    rows = rev.training_outcomes(items, weak, strong, 0.5, 0)
    train, _ = rev.split(6, 0.5, 0)
    assert [r["prompt"] for r in rows] == [items[i].prompt for i in train]
    assert [r["hard"] for r in rows] == [i % 2 == 0 for i in train]
