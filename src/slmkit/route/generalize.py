"""Routers compared on several labelled sets at once, each split in a training half and a
held-apart half (seeded, per set); everything learned — the difficulty classifier, the
nearest-neighbour router, the logistic combination, the thresholds — sees training
halves only, and every number is reported per set on its held-apart half.

Input: one record per question, ``{"set", "prompt", "weak_ok", "strong_ok", "post":
{post_features}, "vector": prompt embedding}`` (``"train_only": true``: an extra training
question, in every training half and never held apart). Routers: ``confidence`` (1 −
exp(mean log-probability) of the local answer), ``consistency`` (disagreement of k
samples), ``entropy`` (mean next-token entropy), ``difficulty`` (the hashed n-gram
classifier), ``knn`` (similarity-weighted neighbours over hashed n-grams, k=12),
``knn-cv`` (the same with k and the similarity scale chosen by leave-one-out on the
training half), ``knn-embed`` (the same over the records' ``vector``, when given),
``vote-pre`` (the mean rank of the three prompt-side routers, nothing fit),
``vote-ngram`` / ``vote-cv`` (the mean rank of difficulty and knn / knn-cv; vote-ngram is
what `slm route train --router vote --features hashed-ngrams` serves),
``difficulty-ask`` / ``knn-ask`` / ``vote-ask`` (the same over `route.features`: the
prompt's n-grams, its question's apart, structure counts; vote-ask is what `slm route
train` serves by default), ``combined-pre`` (a logistic combination of every signal
known before the local model answers), ``combined`` (of all of them) and ``cascade``
(vote-ask, then the local answer's post-answer signals: :func:`_cascade`);
the combination's form — expected gain p(strong right) − p(weak right), or p(hard) — is
chosen by cross-validation on the training halves. ``select-cv`` takes, per set, the
router with the best APGR on that set's training half (for a deployment that knows which
task a request belongs to, e.g. one endpoint per app). ``oracle`` is no router: each
held-apart item's own gain, the most APGR can be on that set.
Each APGR comes with a bootstrap 90% interval over the held-apart questions.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from slmkit.route import combine
from slmkit.route.difficulty import HashedFeatures
from slmkit.route.evaluate import _calibrated, _rank01, apgr, curve, random_baseline, split, summary
from slmkit.route.features import AskFeatures
from slmkit.route.signals import POST_FEATURES

ROUTERS = ("confidence", "consistency", "entropy", "difficulty", "knn", "knn-cv", "knn-embed",
           "vote-pre", "vote-ngram", "vote-cv", "difficulty-ask", "knn-ask", "vote-ask",
           "combined-pre", "combined", "cascade", "select-cv", "oracle")
CASCADE_WEIGHTS = (0.0, 0.25, 0.5, 1.0)
# what ``select-cv`` picks from per set (training-row scores out of fold or nothing fit)
SELECTABLE = ("confidence", "consistency", "entropy", "difficulty", "knn-cv", "knn-embed",
              "vote-pre", "vote-cv")


def _splits(sets: Sequence[str], test_share: float, seed: int,
            train_only: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per set, a seeded (train, held-apart) halving; rows marked ``train_only`` (extra
    training questions) are always in the training part."""
    names = np.asarray(sets)
    fixed = np.zeros(len(names), bool) if train_only is None else np.asarray(train_only, bool)
    tr, te = [np.nonzero(fixed)[0]], []
    for s in dict.fromkeys(sets):
        idx = np.nonzero((names == s) & ~fixed)[0]
        a, b = split(len(idx), test_share, seed)
        tr.append(idx[a])
        te.append(idx[b])
    return np.sort(np.concatenate(tr)), np.sort(np.concatenate(te))


def _difficulty(prompts: list[str], hard: np.ndarray, tr: np.ndarray, seed: int,
                features: str = "hashed-ngrams") -> np.ndarray:
    """p(hard) for every prompt: cross-fitted on the training rows, else from all of them."""
    from slmkit.route.difficulty import train

    def fit_predict(fit: np.ndarray, pred: np.ndarray) -> np.ndarray:
        y = hard[fit]
        if y.min() == y.max():
            return np.full(len(pred), float(y.mean()))
        model = train([prompts[i] for i in fit], list(y), holdout=0, features=features)
        return model.scores([prompts[i] for i in pred])

    out = np.zeros(len(prompts))
    out[tr] = combine.cross_fit(len(tr), 5, seed, lambda f, p: fit_predict(tr[f], tr[p]))
    rest = np.setdiff1d(np.arange(len(prompts)), tr)
    out[rest] = fit_predict(tr, rest)
    return out


def signal_matrices(records: Sequence[dict], tr: np.ndarray, seed: int = 0
                    ) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """(pre-answer features, post-answer features, single-signal router scores)."""
    w = np.array([r["weak_ok"] for r in records], float)
    s = np.array([r["strong_ok"] for r in records], float)
    kinds = [r["set"] for r in records]
    # neighbours in hashed n-gram space: a fraction of a millisecond per prompt
    ngrams = HashedFeatures().matrix([r["prompt"] for r in records])
    est = _knn(ngrams, w, s, kinds, tr)
    # k and the similarity scale chosen by leave-one-out on the training rows only
    k, scale, _ = combine.choose_knn(ngrams[tr], w[tr], s[tr], [kinds[i] for i in tr])
    cv = _knn(ngrams, w, s, kinds, tr, k=k, scale=scale)
    hard = s * (1 - w)
    p_hard = _difficulty([r["prompt"] for r in records], hard, tr, seed)
    vocab = sorted(set(kinds))
    pre = np.column_stack([est["p_weak"], est["p_strong"], p_hard,
                           combine.one_hot(list(est["kind"]), vocab)])
    post = np.array([[r["post"][f] for f in POST_FEATURES] for r in records], float)
    col = {f: post[:, i] for i, f in enumerate(POST_FEATURES)}
    single = {"confidence": 1.0 - np.exp(col["mean_logprob"]),
              "consistency": 1.0 - col["consistency"], "entropy": col["mean_entropy"],
              "difficulty": p_hard, "knn": est["p_strong"] - est["p_weak"],
              "knn-cv": cv["p_strong"] - cv["p_weak"]}
    # the same over the prompt's ask and structure counts (`route.features`)
    asked = AskFeatures().matrix([r["prompt"] for r in records])
    ask_est = _knn(asked, w, s, kinds, tr)
    single["knn-ask"] = ask_est["p_strong"] - ask_est["p_weak"]
    single["p_weak-ask"] = ask_est["p_weak"]  # not a router: what the cascade starts from
    single["difficulty-ask"] = _difficulty([r["prompt"] for r in records], hard, tr, seed,
                                           features="ask-ngrams")
    if all("vector" in r for r in records):  # neighbours in a sentence embedder's space
        emb = _knn(np.array([r["vector"] for r in records], np.float32), w, s, kinds, tr)
        single["knn-embed"] = emb["p_strong"] - emb["p_weak"]
    return pre, post, single


def _knn(vec: np.ndarray, w: np.ndarray, s: np.ndarray, kinds: list[str], tr: np.ndarray,
         **kw) -> dict[str, np.ndarray]:
    """kNN estimates for every row: leave-one-out on the training rows."""
    knn = combine.KNNRouter.fit(vec[tr], w[tr], s[tr], [kinds[i] for i in tr], **kw)
    est = {k: np.zeros(len(kinds), dtype=object if k == "kind" else float)
           for k in ("p_weak", "p_strong", "kind")}
    rest = np.setdiff1d(np.arange(len(kinds)), tr)
    for rows, kw in ((tr, {"exclude_self": True}), (rest, {})):
        if len(rows):
            for k, v in knn.estimate(vec[rows], **kw).items():
                est[k][rows] = v
    return est


def evaluate(records: Sequence[dict], *, test_share: float = 0.5, seed: int = 0,
             target_pgr: float = 0.8, bootstrap: bool = True) -> dict:
    """Per set (and over all sets together): weak and strong accuracy on the held-apart
    half and, per router, APGR (with a bootstrap interval unless ``bootstrap`` is off),
    CPT(50%), CPT(80%) and the per-set calibrated threshold's escalated share / accuracy
    / PGR."""
    sets = [r["set"] for r in records]
    tr, te = _splits(sets, test_share, seed, np.array([bool(r.get("train_only"))
                                                       for r in records]))
    pre, post, scores = signal_matrices(records, tr, seed)
    w = np.array([r["weak_ok"] for r in records], bool)
    s = np.array([r["strong_ok"] for r in records], bool)
    # no fitting at all: the mean rank of the prompt-side routers
    names, chosen = np.asarray(sets), {}
    votes = [k for k in ("difficulty", "knn", "knn-embed") if k in scores]
    scores["vote-pre"] = np.mean([_rank01(scores[k]) for k in votes], axis=0)
    # what `slm route train --router vote` serves (no embedder; k=12), and with the chosen k
    for key, diff, knn in (("vote-ngram", "difficulty", "knn"),
                           ("vote-cv", "difficulty", "knn-cv"),
                           ("vote-ask", "difficulty-ask", "knn-ask")):
        scores[key] = (_rank01(scores[diff]) + _rank01(scores[knn])) / 2
    scores["cascade"], chosen["cascade"] = _cascade(scores["vote-ask"],
                                                    scores.pop("p_weak-ask"), post, w, s,
                                                    names, tr, seed)
    scores["select-cv"], chosen["select-cv"] = _select(scores, w, s, names, tr)
    # not a router: each held-apart item's own gain, the ceiling APGR can reach on a set
    scores["oracle"] = s.astype(float) - w.astype(float)
    for key, post_x in (("combined-pre", None), ("combined", post)):
        # the combiner's form is chosen by cross-validation on the training halves only
        kind, cv = combine.choose_combiner(pre[tr], None if post_x is None else post_x[tr],
                                           w[tr], s[tr], names[tr], seed=seed)
        model = combine.COMBINERS[kind].fit(pre[tr], None if post_x is None else post_x[tr],
                                            w[tr], s[tr])
        scores[key] = model.score(pre, post_x)
        chosen[key] = {"form": kind, "cv_apgr": round(cv, 4)}
    out = {"n": len(records), "n_train": len(tr), "n_test": len(te), "seed": seed,
           "target_pgr": target_pgr, "combiners": chosen, "sets": {}}
    for name in [*dict.fromkeys(sets), "all"]:
        mask = np.ones(len(sets), bool) if name == "all" else names == name
        out["sets"][name] = _one_set(scores, w, s, tr[mask[tr]], te[mask[te]], target_pgr,
                                     bootstrap)
    return out


def _cascade(vote: np.ndarray, p_weak: np.ndarray, post: np.ndarray, w: np.ndarray,
             s: np.ndarray, names: np.ndarray, tr: np.ndarray, seed: int
             ) -> tuple[np.ndarray, dict]:
    """The served router's rank, then the local answer: ``vote − a · p̂(weak right)``,
    p̂ a logistic regression on the prompt's neighbours' estimate, the rank and the
    post-answer signals (cross-fitted on the training rows), ``a`` from
    :data:`CASCADE_WEIGHTS` by the training rows' APGR (mean per set; 0: the answer adds
    nothing). Thresholded, it escalates at once above the rank's threshold and, below it,
    after the local answer when that looks wrong."""
    clip = np.clip(p_weak, 1e-3, 1 - 1e-3)
    z = np.column_stack([np.log(clip / (1 - clip)), vote, post])

    def fit_predict(fit: np.ndarray, pred: np.ndarray) -> np.ndarray:
        if w[fit].min() == w[fit].max():
            return np.full(len(pred), float(w[fit].mean()))
        return combine.Logistic.fit(z[fit], w[fit]).predict(z[pred])

    pw = np.zeros(len(w))
    pw[tr] = combine.cross_fit(len(tr), 5, seed, lambda f, p: fit_predict(tr[f], tr[p]))
    rest = np.setdiff1d(np.arange(len(w)), tr)
    pw[rest] = fit_predict(tr, rest)
    a = max(CASCADE_WEIGHTS, key=lambda a: combine.group_apgr(w[tr], s[tr], (vote - a * pw)[tr],
                                                              names[tr]))
    return vote - a * pw, {"weight": a}


def _select(scores: dict, w: np.ndarray, s: np.ndarray, names: np.ndarray, tr: np.ndarray
            ) -> tuple[np.ndarray, dict[str, str]]:
    """Per set, the router of :data:`SELECTABLE` with the best APGR on that set's training
    rows (their scores are out of fold, or nothing was fit); its ranks score the set."""
    out, picked = np.zeros(len(w)), {}
    for name in dict.fromkeys(names):
        rows = tr[names[tr] == name]
        best = max((k for k in SELECTABLE if k in scores),
                   key=lambda k: combine.group_apgr(w[rows], s[rows], scores[k][rows]))
        picked[str(name)] = best
        mask = names == name
        out[mask] = _rank01(scores[best])[mask]
    return out, picked


def _one_set(scores: dict, w: np.ndarray, s: np.ndarray, tr: np.ndarray, te: np.ndarray,
             target: float, bootstrap: bool = True) -> dict:
    row = {"n_train": len(tr), "n_test": len(te),
           "weak_accuracy": round(float(w[te].mean()), 4),
           "strong_accuracy": round(float(s[te].mean()), 4), "routers": []}
    rnd = random_baseline(w[te], s[te])
    rnd.pop("curve")
    row["routers"].append(rnd)
    for name in (x for x in ROUTERS if x in scores):
        r = summary(name, w[te], s[te], scores[name][te])
        r.pop("curve")
        if bootstrap:
            r["apgr_ci90"] = _bootstrap(w[te], s[te], scores[name][te])
        # thresholds calibrated per set on its training half, applied to its held-apart half
        idx = np.concatenate([tr, te])
        local_tr, local_te = np.arange(len(tr)), np.arange(len(tr), len(idx))
        r["calibrated"] = _calibrated(scores[name][idx], w[idx], s[idx], local_tr, local_te,
                                      target)
        row["routers"].append(r)
    return row


def _bootstrap(w: np.ndarray, s: np.ndarray, score: np.ndarray, rounds: int = 300,
               seed: int = 0) -> list[float] | None:
    """A 90% interval for APGR over resamples of the held-apart questions (resamples
    where the strong model is not ahead are skipped): how much a small set can say."""
    rng = np.random.default_rng(seed)
    vals = []
    for _ in range(rounds):
        i = rng.integers(0, len(w), len(w))
        if s[i].mean() > w[i].mean():
            vals.append(apgr(curve(w[i], s[i], score[i])))
    if len(vals) < rounds // 2:
        return None
    return [round(float(np.percentile(vals, 5)), 3), round(float(np.percentile(vals, 95)), 3)]


def evaluate_splits(records: Sequence[dict], *, splits: int = 10, test_share: float = 0.5,
                    target_pgr: float = 0.8) -> dict:
    """:func:`evaluate` over ``splits`` seeded halvings (every router refit each time),
    averaged per set and router: with a few dozen questions per held-apart half, one
    split's numbers swing by ±0.2 APGR; the mean and spread over splits say more."""
    runs = [evaluate(records, test_share=test_share, seed=k, target_pgr=target_pgr,
                     bootstrap=False) for k in range(splits)]
    out = {"n": runs[0]["n"], "splits": splits, "n_test": runs[0]["n_test"],
           "target_pgr": target_pgr, "sets": {},
           "combiners": [r["combiners"] for r in runs]}
    for name in runs[0]["sets"]:
        rows = [r["sets"][name] for r in runs]
        agg = {"n_test": rows[0]["n_test"],
               "weak_accuracy": _mean([x["weak_accuracy"] for x in rows]),
               "strong_accuracy": _mean([x["strong_accuracy"] for x in rows]),
               "routers": []}
        for i, first in enumerate(rows[0]["routers"]):
            rs = [x["routers"][i] for x in rows]
            cal = [x.get("calibrated") or {} for x in rs]
            apgrs = [x["apgr"] for x in rs if x["apgr"] is not None]
            agg["routers"].append({
                "router": first["router"], "apgr": _mean(apgrs),
                "apgr_sd": round(float(np.std(apgrs)), 4) if apgrs else None,
                "cpt50": _mean([x["cpt50"] for x in rs]), "cpt80": _mean([x["cpt80"] for x in rs]),
                "calibrated": {k: _mean([c.get(k) for c in cal])
                               for k in ("escalated_share", "quality", "pgr")}})
        out["sets"][name] = agg
    return out


def _mean(values) -> float | None:
    vals = [v for v in values if v is not None]
    return round(float(np.mean(vals)), 4) if vals else None
