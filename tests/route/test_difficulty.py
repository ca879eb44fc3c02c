"""The prompt-difficulty classifier: deterministic features, learning a rule from outcomes,
safe save/load, and the router escalating before the local model runs."""

from __future__ import annotations

import random

import numpy as np
import pytest

from helpers.fake_engine import FakeLocal
from helpers.upstream import Upstream
from slmkit.core.types import ChatMessage, GenerateRequest, collect
from slmkit.guard import Guard
from slmkit.route import RouteConfig, RoutedEngine
from slmkit.route.difficulty import DifficultyModel, HashedFeatures, auc, read_outcomes, train
from slmkit.runtime.remote import RemoteEngine

EASY = ["hi there", "thanks a lot", "what time is it", "say hello", "good morning",
        "how are you", "tell me a joke", "what is your name"]
HARD_TOPICS = ["prove the theorem about eigenvalues of symmetric matrices",
               "derive the gradient of the attention softmax with respect to queries",
               "prove that the halting problem is undecidable",
               "derive the closed form of the integral of x squared times log x",
               "prove the convergence rate of gradient descent on a convex function"]


def outcomes(n: int, seed: int = 0) -> tuple[list[str], list[bool]]:
    r = random.Random(seed)
    prompts, hard = [], []
    for _ in range(n):
        if r.random() < 0.5:
            prompts.append(f"{r.choice(EASY)} {r.choice(['', 'please', 'friend', 'now'])}")
            hard.append(False)
        else:
            prompts.append(f"{r.choice(HARD_TOPICS)} {r.choice(['', 'step by step', 'carefully'])}")
            hard.append(True)
    return prompts, hard


def test_features_are_deterministic_normalized_and_sized():
    f = HashedFeatures(512)
    a, b = f.vector("Prove the theorem"), HashedFeatures(512).vector("Prove the theorem")
    assert a.shape == (512,) and np.array_equal(a, b)
    assert abs(float(np.linalg.norm(a[:-1])) - 1.0) < 1e-5
    assert not np.array_equal(a, f.vector("say hello"))
    assert f.matrix([]).shape == (0, 512)


def test_learns_a_rule_and_generalizes_to_held_apart_prompts():
    prompts, hard = outcomes(200)
    model = train(prompts, hard, dimension=1024)
    assert model.metrics["holdout_auc"] >= 0.95
    test_prompts, test_hard = outcomes(60, seed=7)
    p = model.scores(test_prompts)
    assert auc(p, np.array(test_hard, dtype=float)) >= 0.95
    assert model.p_hard("prove the theorem about eigenvalues step by step") > 0.5
    assert model.p_hard("hi there friend") < 0.5


def test_refuses_single_label_or_too_few_outcomes():
    with pytest.raises(ValueError, match="both labels"):
        train(["a"] * 20, [False] * 20)
    with pytest.raises(ValueError, match="at least 10"):
        train(["a", "b"], [True, False])


def test_save_load_round_trip_and_refuses_other_files(tmp_path):
    prompts, hard = outcomes(80)
    model = train(prompts, hard, dimension=256, holdout=0)
    path = model.save(tmp_path / "d.npz")
    again = DifficultyModel.load(path)
    assert np.allclose(again.scores(prompts[:5]), model.scores(prompts[:5]))
    bad = tmp_path / "bad.npz"
    with open(bad, "wb") as f:
        np.save(f, np.array([{"x": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="not a difficulty model"):
        DifficultyModel.load(bad)
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not a difficulty model"):
        DifficultyModel.load(tmp_path / "junk.npz")


def test_outcome_files_are_validated_with_line_numbers(tmp_path):
    good = tmp_path / "o.jsonl"
    good.write_text('{"prompt": "a", "hard": true}\n\n{"prompt": "b", "local_correct": true}\n')
    assert read_outcomes(str(good)) == (["a", "b"], [True, False])
    bad = tmp_path / "b.jsonl"
    bad.write_text('{"prompt": "a", "hard": true}\n{"prompt": "b"}\n')
    with pytest.raises(ValueError, match=r"b.jsonl:2: needs \"hard\""):
        read_outcomes(str(bad))
    bad.write_text('{"prompt": "a", "hard": true}\nnot json\n')
    with pytest.raises(ValueError, match=r":2: not JSON"):
        read_outcomes(str(bad))


def test_router_escalates_prompts_rated_hard_before_running_the_local_model():
    prompts, hard = outcomes(200)
    model = train(prompts, hard, dimension=1024)
    upstream = Upstream()
    try:
        local = FakeLocal()
        eng = RoutedEngine(local, RemoteEngine(upstream.url, model="big", timeout=5),
                           guard=Guard(), config=RouteConfig(judge_tokens=4), difficulty=model)
        msg = "prove the theorem about eigenvalues of symmetric matrices"
        out = collect(eng.generate(GenerateRequest(messages=[ChatMessage("user", msg)],
                                                   max_tokens=32)))
        d = out.usage.decision
        assert d.route == "remote" and d.reason.startswith("difficulty: p(hard)")
        assert d.signals["p_hard"] >= 0.5 and out.text.startswith("You said:")
        assert len(upstream.recording.requests) == 1 and local.requests == []  # never ran
        out = collect(eng.generate(GenerateRequest(messages=[ChatMessage("user", "hi there")],
                                                   max_tokens=32)))
        assert out.usage.decision.route == "local"
        assert out.usage.decision.signals["p_hard"] < 0.5
        assert len(upstream.recording.requests) == 1
    finally:
        upstream.stop()
