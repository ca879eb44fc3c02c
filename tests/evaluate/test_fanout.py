"""`slm eval --ray`: perplexity and choice accuracy with the scoring split over workers give
the local run's numbers, on a fake model (the merge) and on the real default model in Ray
tasks on a local head."""

from __future__ import annotations

import functools

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
def test_ray_tasks_give_the_local_numbers_on_the_real_model(default_model_path, tmp_path):
    pytest.importorskip("ray", reason="ray is not installed (pip install 'slmkit[ray]')")
    from slmkit.models.load import load
    from slmkit.scale.ray_batch import RayFanOut

    make = functools.partial(load, default_model_path, n_ctx=256, n_threads=1)
    with make() as engine:
        local = perplexity(engine, TEXT, chunk=128, max_chunks=6)
        want = choice_accuracy(engine, ITEMS, mode="letter")
    fan_out = RayFanOut(num_cpus=2)
    with make() as engine:  # tokenizes only
        spread = perplexity_fanned(engine, TEXT, make_engine=make, fan_out=fan_out, shards=2,
                                   chunk=128, max_chunks=6)
    assert spread.n_chunks == local.n_chunks == 6
    assert spread.ppl == pytest.approx(local.ppl, rel=1e-6)
    got = choice_fanned(ITEMS, make_engine=make, fan_out=fan_out, shards=2, mode="letter")
    assert got.predictions == want.predictions
