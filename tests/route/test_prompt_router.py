"""The learned prompt router (`slm route train --router vote|knn|difficulty`): outcome
files in every form, learning who gains from escalation, a calibrated threshold, pickle-free
files, and the routed engine escalating on it before the local model runs."""

from __future__ import annotations

import numpy as np
import pytest

from helpers.fake_engine import FakeLocal
from helpers.route_outcomes import make, write
from helpers.upstream import Upstream
from slmkit.core.types import ChatMessage, GenerateRequest, collect
from slmkit.guard import Guard
from slmkit.route import RouteConfig, RoutedEngine, combine, outcomes, prompt_router
from slmkit.route.difficulty import DifficultyModel, train as train_classifier
from slmkit.route.eval_request import RouteTrain
from slmkit.route.evaluate import apgr, curve
from slmkit.route.present import train_text
from slmkit.runtime.remote import RemoteEngine


@pytest.mark.parametrize("kind", prompt_router.KINDS)
def test_each_kind_ranks_unseen_prompts_by_the_gain_of_escalating(kind):
    router = prompt_router.train(make(150), kind=kind, dimension=512)
    # a third of the prompts gain, so the best possible APGR is 1/6 + 2/3 = 0.83
    assert router.metrics["cv_apgr"] >= 0.75 and router.metrics["threshold_reached"]
    test = make(300, seed=9)
    score = router.scores(test.prompts)
    assert score.min() >= 0 and score.max() <= 1
    assert apgr(curve(test.weak_ok, test.strong_ok, score)) >= 0.75
    # the calibrated threshold sends what gains, keeps the rest: it is set for 80% of the
    # gain on out-of-fold training scores, so on unseen prompts it sends about that share
    up = score >= router.threshold
    assert up[test.hard].mean() >= 0.75 and up[test.weak_ok].mean() <= 0.2


def test_knn_keeps_prompts_nobody_can_answer_local():
    """The kNN router ranks by expected gain, so a prompt neither model answers (nothing to
    gain) stays below one only the big model answers."""
    router = prompt_router.train(make(150), kind="knn", dimension=512)
    hopeless = router.p_hard("predict the lottery numbers for chen next week")
    assert router.p_hard("explain the tax treatment of chen for a small company") > hopeless


def test_file_round_trip_without_pickle_and_refusals(tmp_path):
    router = prompt_router.train(make(120), kind="vote", dimension=256)
    path = router.save(tmp_path / "r.npz")
    again = prompt_router.load(path)
    assert isinstance(again, prompt_router.PromptRouter) and again.kind == "vote"
    probe = make(20, seed=3).prompts
    assert np.allclose(again.scores(probe), router.scores(probe))
    assert again.threshold == router.threshold and again.metrics == router.metrics
    with np.load(path, allow_pickle=False) as data:  # plain arrays only
        assert all(data[k].dtype != object for k in data.files)
    # the older plain classifier still loads through the same door
    o = make(60)
    old = train_classifier(o.prompts, list(o.hard), dimension=256, holdout=0)
    assert isinstance(prompt_router.load(old.save(tmp_path / "c.npz")), DifficultyModel)
    bad = tmp_path / "bad.npz"
    with open(bad, "wb") as f:
        np.save(f, np.array([{"x": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="not a router written by `slm route train`"):
        prompt_router.load(bad)
    broken = dict(np.load(path, allow_pickle=False))
    broken["weights"] = broken["weights"][:10]
    np.savez(tmp_path / "cut.npz", **broken)
    with pytest.raises(ValueError, match="classifier weights"):
        prompt_router.load(tmp_path / "cut.npz")


def test_outcome_files_in_every_form(tmp_path):
    f = tmp_path / "o.jsonl"
    f.write_text('{"prompt": "a", "weak_ok": true, "strong_ok": false, "set": "x"}\n'
                 '{"prompt": "b", "local_correct": false, "remote_correct": true}\n'
                 '{"prompt": "c", "local_correct": true}\n'
                 '{"prompt": "d", "hard": true}\n\n')
    o = outcomes.read(str(f))
    assert o.prompts == ["a", "b", "c", "d"] and o.sets == ["x", "", "", ""]
    assert o.weak_ok.tolist() == [True, False, True, False]
    assert o.strong_ok.tolist() == [False, True, True, True]
    assert o.hard.tolist() == [False, True, False, True]
    f.write_text('{"prompt": "a", "hard": true}\n{"prompt": "b", "strong_ok": true}\n')
    with pytest.raises(ValueError, match=r'o.jsonl:2: needs "hard"'):
        outcomes.read(str(f))


def test_refuses_outcomes_with_nothing_to_learn():
    o = make(40)
    o.strong_ok = o.weak_ok.copy()  # escalating never helps
    with pytest.raises(ValueError, match="some where escalating helps"):
        prompt_router.train(o, dimension=256)
    with pytest.raises(ValueError, match="--router must be one of"):
        prompt_router.train(make(40), kind="magic")


def test_route_train_request_writes_a_router_and_says_how_to_serve_it(tmp_path):
    data = write(tmp_path / "o.jsonl", make(80))
    r = RouteTrain(data=data, output=str(tmp_path / "r.npz"), router="knn", neighbours=0,
                   dimension=256).run()
    assert r["router"] == "knn" and r["n"] == 80 and 0 <= r["threshold"] <= 1
    assert (r["k"], r["scale"]) in combine.KNN_GRID  # chosen by leave-one-out
    assert isinstance(prompt_router.load(r["model"]), prompt_router.PromptRouter)
    assert "--difficulty " + r["model"] in train_text(r)
    c = RouteTrain(data=data, output=str(tmp_path / "c.npz"), router="classifier",
                   dimension=256).run()
    assert c["router"] == "classifier" and "AUC" in train_text(c)


def test_routed_engine_escalates_on_the_router_before_the_local_model_runs():
    router = prompt_router.train(make(150), kind="vote", dimension=512)
    upstream = Upstream()
    try:
        local = FakeLocal()
        eng = RoutedEngine(local, RemoteEngine(upstream.url, model="big", timeout=5),
                           guard=Guard(), difficulty=router,
                           config=RouteConfig(judge_tokens=4,
                                              max_difficulty=router.threshold))
        msg = "summarize the legal brief on hana in two sentences"
        out = collect(eng.generate(GenerateRequest(messages=[ChatMessage("user", msg)],
                                                   max_tokens=16)))
        d = out.usage.decision
        assert d.route == "remote" and d.reason.startswith("difficulty: hardness rank")
        assert d.signals["hard_rank"] >= router.threshold and local.requests == []
        out = collect(eng.generate(GenerateRequest(
            messages=[ChatMessage("user", "say hello to hana")], max_tokens=16)))
        assert out.usage.decision.route == "local"
        assert out.usage.decision.signals["hard_rank"] < router.threshold
        assert len(upstream.recording.requests) == 1
    finally:
        upstream.stop()
