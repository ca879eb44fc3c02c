"""Router evaluation math (PGR curve, APGR, CPT, calibrated thresholds) on hand-checkable
cases, and letter answers from the real default model through the Engine contract."""

from __future__ import annotations

import numpy as np
import pytest

from slmkit.route import evaluate as rev
from slmkit.route import outcomes
from slmkit.route.difficulty import train
from slmkit.route.prompt_router import train as train_router


def test_curve_apgr_and_cpt_by_hand():
    weak = np.array([1, 0, 0, 0], dtype=bool)
    strong = np.array([1, 1, 1, 0], dtype=bool)
    oracle = np.array([0.0, 3.0, 2.0, 1.0])  # escalates the two items strong wins first
    c = rev.curve(weak, strong, oracle)
    assert c["q_weak"] == 0.25 and c["q_strong"] == 0.75
    assert np.allclose(c["quality"], [0.25, 0.5, 0.75, 0.75, 0.75])
    assert np.allclose(c["pgr"], [0, 0.5, 1, 1, 1])
    assert rev.apgr(c) == pytest.approx((0.25 + 0.75 + 1 + 1) / 4)
    assert rev.cpt(c, 0.5) == 0.25 and rev.cpt(c, 0.8) == 0.5
    worst = rev.curve(weak, strong, -oracle)
    assert rev.apgr(worst) < 0.5 < rev.apgr(c)


def test_ties_are_averaged_and_random_is_about_one_half():
    rng = np.random.default_rng(1)
    weak, strong = rng.random(300) < 0.3, rng.random(300) < 0.6
    flat = rev.curve(weak, strong, np.zeros(300))
    assert rev.apgr(flat) == pytest.approx(0.5, abs=1e-9)  # one tie group = a straight line
    assert rev.random_baseline(weak, strong)["apgr"] == pytest.approx(0.5, abs=0.03)


def test_calibrated_threshold_reaches_the_target_on_its_split():
    rng = np.random.default_rng(0)
    n = 400
    hardness = rng.random(n)
    weak = rng.random(n) > hardness  # the weak model fails hard items
    strong = rng.random(n) > hardness * 0.3
    items = [rev.Item(f"q{i}", 4, 0) for i in range(n)]
    w = [rev.Answer(0 if ok else 1, float(1 - h), ()) for ok, h in zip(weak, hardness)]
    s = [rev.Answer(0 if ok else 1, 1.0, ()) for ok in strong]
    report = rev.evaluate_routers(items, w, s, test_share=0.5, seed=3, target_pgr=0.8)
    conf = next(r for r in report["routers"] if r["router"] == "confidence")
    rand = next(r for r in report["routers"] if r["router"] == "random")
    assert conf["apgr"] > rand["apgr"] + 0.1
    cal = conf["calibrated"]
    assert 0 < cal["escalated_share"] < 1 and cal["pgr"] >= 0.6
    assert report["n_test"] == 200 and report["n_train"] == 200


def test_difficulty_router_learns_from_the_training_split():
    rng = np.random.default_rng(0)
    n = 240
    topic = rng.random(n) < 0.5  # the strong model knows "chemistry"; both fail "law"
    items = [rev.Item(("chemistry question about moles " if t else "law question on torts ")
                      + str(i), 4, 0) for i, t in enumerate(topic)]
    w = [rev.Answer(1, 0.5, ()) for _ in range(n)]  # the weak model always fails
    s = [rev.Answer(0 if t else 1, 0.9, ()) for t in topic]
    report = rev.evaluate_routers(items, w, s, train_difficulty=lambda p, h: train(
        p, h, dimension=512))
    diff = next(r for r in report["routers"] if r["router"] == "difficulty")
    # the best any router can do escalates the strong model's wins first: PGR reaches 1 at
    # the share of such items q, so APGR = 1 - q/2
    q = report["strong_accuracy"] - report["weak_accuracy"]
    assert diff["apgr"] == pytest.approx(1 - q / 2, abs=0.02)
    assert report["difficulty_model"] is not None
    # the served vote router, fit on the same training split, learns the same rule
    report = rev.evaluate_routers(items, w, s, train_router=lambda p, wk, st: train_router(
        outcomes.Outcomes(p, wk, st), kind="vote", dimension=512))
    vote = next(r for r in report["routers"] if r["router"] == "vote")
    assert vote["apgr"] == pytest.approx(1 - q / 2, abs=0.02)
    assert vote["calibrated"]["pgr"] >= 0.8


@pytest.mark.integration
def test_letter_answers_from_the_real_model(engine):
    item = rev.Item("The following are multiple choice questions (with answers).\n\n"
                    "What is the capital of France?\nA. Berlin\nB. Paris\nC. Rome\n"
                    "D. Madrid\nAnswer:", 4, 1)
    a = rev.answer(engine, item)
    assert 0 <= a.choice < 4 and 0.25 <= a.confidence <= 1.0
    assert sum(a.letter_probs) == pytest.approx(1.0)
    assert a.letter_probs[a.choice] == max(a.letter_probs)


def test_generated_answers_are_matched_by_number_or_words():
    assert rev.matches("The answer is 1,024.", "1024")
    assert not rev.matches("10240", "1024") and not rev.matches("no idea", "42")
    assert rev.matches("Paris.\nIt is in France.", "Paris")
    assert rev.matches("buenos aires!", "Buenos Aires")
    assert not rev.matches("Lyon\nnot Paris", "Paris")  # only the first line counts


def test_offline_tasks_are_seeded_and_well_formed():
    from slmkit.route import tasks

    a, b = tasks.mixed(60, seed=3), tasks.mixed(60, seed=3)
    assert a == b and a != tasks.mixed(60, seed=4)
    for row in a:
        assert len(row["choices"]) == 4 == len(set(row["choices"]))
        assert 0 <= row["answer"] < 4
    arith = tasks.arithmetic(10)
    for row in arith:
        x, op, y = row["question"].removeprefix("What is ").rstrip("?").split()
        value = {"+": int(x) + int(y), "-": int(x) - int(y), "×": int(x) * int(y)}[op]
        assert row["choices"][row["answer"]] == str(value)
