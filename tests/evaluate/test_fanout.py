"""`slm eval --ray`: perplexity and choice accuracy with the scoring split over workers give
the local run's numbers, on a fake model (the merge) and on the real default model in Ray
tasks on a local head."""

from __future__ import annotations

import functools
import json

import pytest

from slmkit.evaluate.choice import choice_accuracy
from slmkit.evaluate.datasets import ChoiceItem
from slmkit.evaluate.fanout import choice_fanned, perplexity_fanned, shards_of
from slmkit.evaluate.perplexity import perplexity
from slmkit.evaluate.suite import EvalPlan, Spread, evaluate_engine

TEXT = ("Ships from the northern ports carried timber, salt and iron to the southern towns, "
        "and came back with grain, wine and cloth before the winter storms. ") * 30
ITEMS = [ChoiceItem(q, list(ch), a) for q, ch, a in [
    ("What is 2 + 3?", ("4", "5", "6", "7"), 1),
    ("Which is a colour?", ("table", "blue", "run", "seven"), 1),
    ("What is the capital of France?", ("Paris", "Rome", "Berlin", "Madrid"), 0),
    ("Which animal barks?", ("cat", "cow", "dog", "fish"), 2),
    ("What is 10 - 4?", ("6", "5", "7", "4"), 0),
    ("Which is a fruit?", ("stone", "apple", "chair", "cloud"), 1),
    ("How many legs has a spider?", ("six", "four", "ten", "eight"), 3),
]]


def sequential(work, parts):
    """A fan-out that runs the parts one after another here (the merge is what's tested)."""
    return [work(*part) for part in parts]


def test_shards_are_contiguous_near_equal_and_never_empty():
    assert shards_of(list(range(7)), 3) == [[0, 1, 2], [3, 4], [5, 6]]
    assert shards_of([1, 2], 5) == [[1], [2]]
    assert shards_of([], 2) == []
    with pytest.raises(ValueError, match="at least 1"):
        shards_of([1], 0)


def test_fanned_scoring_merges_to_the_local_numbers(fake_lm):
    lm = fake_lm(bos=3)
    make = functools.partial(fake_lm, bos=3)
    local = perplexity(lm, TEXT, chunk=64, max_chunks=9)
    spread = perplexity_fanned(lm, TEXT, make_engine=make, fan_out=sequential, shards=4,
                               chunk=64, max_chunks=9)
    assert (spread.ppl, spread.ppl_se, spread.n_chunks, spread.n_scored) == \
        (local.ppl, local.ppl_se, local.n_chunks, local.n_scored)
    want = choice_accuracy(lm, ITEMS, shots=1, mode="text")
    got = choice_fanned(ITEMS, make_engine=make, fan_out=sequential, shards=3, shots=1,
                        mode="text")
    assert got.predictions == want.predictions and got.correct == want.correct


def test_kld_is_refused_when_spread(fake_lm):
    spread = Spread(sequential, functools.partial(fake_lm))
    with pytest.raises(ValueError, match="--kld runs locally only"):
        evaluate_engine(fake_lm(), EvalPlan(kld=True), spread=spread)


@pytest.mark.integration
@pytest.mark.ray
@pytest.mark.slow
def test_slm_eval_ray_gives_the_local_numbers(default_model_path, tmp_path, capsys):
    """`slm eval --ray`: perplexity and choice accuracy scored in Ray tasks on a local head
    (each opening the real model) equal a local `slm eval`'s."""
    pytest.importorskip("ray", reason="ray is not installed (pip install 'slmkit[ray]')")
    from slmkit.cli.main import main

    text, questions = tmp_path / "text.txt", tmp_path / "questions.jsonl"
    text.write_text(TEXT)
    questions.write_text("".join(json.dumps({"question": it.question, "choices": it.choices,
                                             "answer": it.answer}) + "\n" for it in ITEMS))
    reports = []
    for extra in ([], ["--ray", "--shards", "2"]):
        argv = ["eval", default_model_path, "--ppl", str(text), "--choice", str(questions),
                "--chunk", "128", "--chunks", "6", "--ctx", "256", "--threads", "1",
                "--json", *extra]
        assert main(argv) == 0
        reports.append(json.loads(capsys.readouterr().out))
    local, spread = reports
    assert spread["spread"] == {"shards": 2} and "spread" not in local
    assert spread["ppl"]["n_chunks"] == local["ppl"]["n_chunks"] == 6
    assert spread["ppl"]["ppl"] == pytest.approx(local["ppl"]["ppl"], rel=1e-6)
    assert spread["choice"][0]["correct"] == local["choice"][0]["correct"]
    assert spread["choice"][0]["n"] == len(ITEMS)
