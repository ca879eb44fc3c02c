"""Post-answer signals, the kNN router, the logistic combination and the multi-set
evaluation on constructed outcomes whose right answer is known; one slow test observes the
real default model."""

from __future__ import annotations

import math

import numpy as np
import pytest

from slmkit.route import combine, generalize, signals


def test_entropy_of_known_distributions():
    assert signals.entropy([0.0]) == pytest.approx(0.0)
    assert signals.entropy([math.log(0.5)] * 2) == pytest.approx(math.log(2))
    # a quarter of the mass missing counts as one more outcome
    assert signals.entropy([math.log(0.75)]) == pytest.approx(
        -(0.75 * math.log(0.75) + 0.25 * math.log(0.25)))


def test_consistency_compares_normalised_answers():
    obs = signals.Observation("The answer is 1,024.", [-0.1, -0.5, -2.0], [0.2, 0.9, 1.5],
                              ["1024", "It is 1024", "512", "Paris"])
    f = signals.post_features(obs)
    assert f["consistency"] == 0.5
    assert f["min_logprob"] == -2.0 and f["first_logprob"] == -0.1
    assert f["mean_entropy"] == pytest.approx(2.6 / 3) and f["max_entropy"] == 1.5
    assert signals.normalize("Paris, of course.\nmore") == "paris of course"
    assert signals.post_features(signals.Observation("x"))["consistency"] == 1.0


def test_cache_roundtrip(tmp_path):
    cache = str(tmp_path / "c.jsonl")
    obs = signals.Observation("도쿄", [-0.2], [0.3], ["도쿄"], 0.5, 0.7)
    key = signals._key("m", "q", True, 1)
    (tmp_path / "c.jsonl").write_text(
        '{"key": "%s", "obs": %s}\n{"key": cut short' % (key, __import__("json").dumps(
            obs.to_dict(), ensure_ascii=False)), encoding="utf-8")
    got = signals.cached([("q", True), ("other", True)], cache=cache, model="m", samples=1)
    assert got[0] == obs and got[1] is None


def _clusters(n_per: int, seed: int = 0):
    """Two prompt clusters: in one the weak model is right, in the other only the strong."""
    rng = np.random.default_rng(seed)
    a = rng.normal([1, 0, 0], 0.1, (n_per, 3))
    b = rng.normal([0, 1, 0], 0.1, (n_per, 3))
    vec = np.vstack([a, b])
    weak = np.r_[np.ones(n_per), np.zeros(n_per)]
    strong = np.ones(2 * n_per)
    return vec, weak, strong


def test_knn_router_learns_where_the_weak_model_fails():
    vec, weak, strong = _clusters(30)
    knn = combine.KNNRouter.fit(vec, weak, strong, ["a"] * 30 + ["b"] * 30)
    est = knn.estimate(np.array([[1.0, 0.05, 0], [0.05, 1.0, 0]]))
    assert est["p_weak"][0] > 0.8 > 0.2 > est["p_weak"][1]
    assert list(est["kind"]) == ["a", "b"]
    loo = knn.estimate(vec, exclude_self=True)  # no row sees its own outcome
    assert loo["p_weak"][:30].min() > 0.5 > loo["p_weak"][30:].max()


def test_gain_model_ranks_the_expected_gain():
    rng = np.random.default_rng(0)
    n = 400
    pre = rng.normal(size=(n, 2))
    post = rng.normal(size=(n, 1))
    weak = (post[:, 0] + 0.3 * rng.normal(size=n)) > 0  # the answer's confidence tells
    strong = (pre[:, 0] + 0.3 * rng.normal(size=n)) > -1
    model = combine.GainModel.fit(pre, post, weak, strong)
    score = model.score(pre, post)
    gain = strong.astype(float) - weak
    assert np.corrcoef(score, gain)[0, 1] > 0.6
    assert model.weak.w[-1] > 0 and model.strong.w[0] > 0


def _records(n_per: int = 60):
    rng = np.random.default_rng(1)
    out = []
    for name, pw in (("easy", 0.8), ("hard", 0.2)):
        for i in range(n_per):
            conf = rng.random()
            weak_ok = bool(rng.random() < pw * 0.5 + conf * 0.5)
            out.append({"set": name, "prompt": f"{name} question {i} {'x' * (i % 7)}",
                        "weak_ok": weak_ok, "strong_ok": bool(rng.random() < 0.9),
                        "vector": [1.0, 0.0] if name == "easy" else [0.0, 1.0],
                        "post": {"mean_logprob": math.log(max(conf, 1e-3)),
                                 "min_logprob": math.log(max(conf, 1e-3)) - 1,
                                 "first_logprob": -0.5, "n_tokens": 1.0,
                                 "mean_entropy": 1 - conf, "max_entropy": 1.0,
                                 "consistency": float(conf > 0.5)}})
    return out


def test_multi_set_evaluation_reports_every_router_per_set():
    report = generalize.evaluate(_records(), seed=0)
    assert set(report["sets"]) == {"easy", "hard", "all"}
    assert report["n_test"] == 60
    for row in report["sets"].values():
        names = [r["router"] for r in row["routers"]]
        assert names == ["random", *generalize.ROUTERS]  # vectors given: knn-embed too
    by = {r["router"]: r for r in report["sets"]["all"]["routers"]}
    # the answer's confidence carries the signal: it beats random on the held-apart half
    assert by["confidence"]["apgr"] > by["random"]["apgr"] + 0.1
    assert by["combined"]["apgr"] > by["random"]["apgr"] + 0.1
    # per set, select-cv picks on the training half; nothing beats each item's own gain
    assert set(report["combiners"]["select-cv"]) == {"easy", "hard"}
    assert set(report["combiners"]["select-cv"].values()) <= set(generalize.SELECTABLE)
    assert all(r["apgr"] <= by["oracle"]["apgr"] + 1e-9 for r in by.values())


@pytest.mark.slow
def test_observe_reads_logprobs_entropy_and_samples(engine):
    obs = signals.observe(engine, "What is the capital of France?", samples=2)
    assert obs.text and len(obs.logprobs) == len(obs.entropies) > 0
    assert all(lp <= 0 for lp in obs.logprobs) and all(e >= 0 for e in obs.entropies)
    assert len(obs.samples) == 2
    f = signals.post_features(obs)
    assert set(f) == set(signals.POST_FEATURES) and 0 <= f["consistency"] <= 1


def test_extra_training_rows_stay_out_of_held_apart_halves_and_the_cascade_reads_answers():
    records = _records()
    extra = [{**r, "prompt": r["prompt"] + " again", "train_only": True} for r in records[:40]]
    fixed = np.array([False] * len(records) + [True] * len(extra))
    tr, te = generalize._splits([r["set"] for r in records + extra], 0.5, 0, fixed)
    assert set(range(len(records), len(records) + 40)) <= set(tr) and te.max() < len(records)
    report = generalize.evaluate(records + extra, seed=0, bootstrap=False)
    assert (report["n_train"], report["n_test"]) == (100, 60)
    # the local answer's confidence carries the signal here: the cascade weighs it in
    assert report["combiners"]["cascade"]["weight"] in generalize.CASCADE_WEIGHTS[1:]
    by = {r["router"]: r for r in report["sets"]["all"]["routers"]}
    assert by["cascade"]["apgr"] > by["vote-ask"]["apgr"] + 0.02
