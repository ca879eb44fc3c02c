"""Routers learned from past outcomes: a nearest-neighbour router over prompt embeddings
(RouteLLM's similarity-weighted ranking, per item) and a logistic combination of every
signal, fit on training outcomes only.

Both estimate, for a new prompt, the chance the weak model is right (``p_weak``) and the
chance the strong one is (``p_strong``); the router escalates first where the expected
gain ``p_strong - p_weak`` is largest — what APGR rewards. Signals computed before the
local model answers (``pre``): the kNN estimates, the prompt-difficulty score, the task
type (the kind most of the neighbours belong to). After it answers (``post``): the local
answer's log-probabilities, entropy, length and self-consistency
(`route.signals.post_features`).

Scores on training items are cross-fitted (each from a model that did not see it), so the
combination learns how far to trust a signal on prompts it has not seen.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from slmkit.route.difficulty import _sigmoid, fit_logistic


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


@dataclass
class KNNRouter:
    """Similarity-weighted neighbours: ``p = Σ w_i y_i / Σ w_i`` over the ``k`` most
    similar past prompts, ``w_i = exp(scale · cos_i)``, shrunk towards the overall rate
    by a pseudo-count ``prior`` (few or far neighbours say little)."""

    vectors: np.ndarray  # (n, d) unit rows
    weak_ok: np.ndarray  # (n,) 0/1
    strong_ok: np.ndarray  # (n,) 0/1
    kinds: Sequence[str] = ()
    k: int = 12
    scale: float = 10.0
    prior: float = 1.0

    @classmethod
    def fit(cls, vectors, weak_ok, strong_ok, kinds: Sequence[str] = (), **kw) -> KNNRouter:
        return cls(_unit(vectors), np.asarray(weak_ok, float), np.asarray(strong_ok, float),
                   list(kinds), **kw)

    def estimate(self, vectors, *, exclude_self: bool = False) -> dict[str, np.ndarray]:
        """``p_weak``, ``p_strong`` (and ``kind``: the neighbours' most common task type,
        when kinds were given) for each row; ``exclude_self`` for the training rows
        themselves, in order (leave-one-out)."""
        sims = _unit(vectors) @ self.vectors.T  # (m, n)
        if exclude_self:
            np.fill_diagonal(sims, -np.inf)
        out, top, w = neighbour_estimates(sims, self.weak_ok, self.strong_ok, k=self.k,
                                          scale=self.scale, prior=self.prior)
        if len(self.kinds):
            kinds = np.asarray(self.kinds)
            out["kind"] = np.array([_vote(kinds[row], wr) for row, wr in zip(top, w)])
        return out


def neighbour_estimates(sims: np.ndarray, weak_ok: np.ndarray, strong_ok: np.ndarray, *,
                        k: int = 12, scale: float = 10.0, prior: float = 1.0
                        ) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """``p_weak`` and ``p_strong`` from cosine similarities ``sims`` (m queries × n past
    prompts; ``-inf`` = not a neighbour): the similarity-weighted share right among the
    ``k`` nearest, shrunk to each model's overall rate by the pseudo-count ``prior``.
    Also returns the neighbours' indices and weights."""
    k = min(k, int(np.isfinite(sims).sum(1).min()) if sims.size else k)
    top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
    s = np.take_along_axis(sims, top, axis=1)
    w = np.exp(scale * (s - 1.0))
    out = {}
    for name, y in (("p_weak", weak_ok), ("p_strong", strong_ok)):
        base = float(y.mean())
        out[name] = ((w * y[top]).sum(1) + prior * base) / (w.sum(1) + prior)
    return out, top, w


def _vote(labels: np.ndarray, weights: np.ndarray) -> str:
    tally: dict[str, float] = {}
    for lab, wt in zip(labels, weights):
        tally[str(lab)] = tally.get(str(lab), 0.0) + float(wt)
    return max(tally, key=tally.get)


def cross_fit(n: int, folds: int, seed: int, fit_predict: Callable[[np.ndarray, np.ndarray],
                                                                    np.ndarray]) -> np.ndarray:
    """Out-of-fold predictions: ``fit_predict(fit_idx, predict_idx)`` per fold."""
    idx = np.random.default_rng(seed).permutation(n)
    out = np.zeros(n)
    for f in range(folds):
        part = idx[f::folds]
        out[part] = fit_predict(np.setdiff1d(idx, part), part)
    return out


@dataclass
class Logistic:
    """A standardised, L2-regularised logistic regression with calibrated outputs."""

    mean: np.ndarray
    std: np.ndarray
    w: np.ndarray
    b: float

    @classmethod
    def fit(cls, x: np.ndarray, y: np.ndarray, *, l2: float = 1e-2) -> Logistic:
        mean, std = x.mean(0), x.std(0) + 1e-6
        w, b = fit_logistic((x - mean) / std, np.asarray(y, float), l2=l2, steps=600,
                            lr=0.1, balanced=False)
        return cls(mean, std, w, b)

    def predict(self, x: np.ndarray) -> np.ndarray:
        return _sigmoid(((x - self.mean) / self.std) @ self.w + self.b)


@dataclass
class GainModel:
    """``p_strong`` and ``p_weak`` from the same features (pre-answer ones, plus the post
    ones when given: how the small model struggles says something about the question for
    the big one too); the score is their difference, the expected gain of escalating."""

    strong: Logistic
    weak: Logistic

    @classmethod
    def fit(cls, pre: np.ndarray, post: np.ndarray | None, weak_ok, strong_ok) -> GainModel:
        x = pre if post is None else np.hstack([pre, post])
        return cls(Logistic.fit(x, strong_ok), Logistic.fit(x, weak_ok))

    def score(self, pre: np.ndarray, post: np.ndarray | None = None) -> np.ndarray:
        x = pre if post is None else np.hstack([pre, post])
        return self.strong.predict(x) - self.weak.predict(x)


def one_hot(values: Sequence[str], vocabulary: Sequence[str]) -> np.ndarray:
    """Rows of 0/1 columns, one per vocabulary entry."""
    m = np.zeros((len(values), len(vocabulary)))
    pos = {v: i for i, v in enumerate(vocabulary)}
    for r, v in enumerate(values):
        if v in pos:
            m[r, pos[v]] = 1.0
    return m


@dataclass
class HardModel:
    """p(hard): the strong model right where the weak one is wrong (RouteLLM's label),
    from the same features; escalate the likeliest first."""

    model: Logistic

    @classmethod
    def fit(cls, pre: np.ndarray, post: np.ndarray | None, weak_ok, strong_ok) -> HardModel:
        x = pre if post is None else np.hstack([pre, post])
        hard = np.asarray(strong_ok, float) * (1 - np.asarray(weak_ok, float))
        return cls(Logistic.fit(x, hard))

    def score(self, pre: np.ndarray, post: np.ndarray | None = None) -> np.ndarray:
        return self.model.predict(pre if post is None else np.hstack([pre, post]))


COMBINERS = {"gain": GainModel, "hard": HardModel}


def choose_combiner(pre: np.ndarray, post: np.ndarray | None, weak_ok, strong_ok,
                    groups: Sequence[str], *, folds: int = 5, seed: int = 0
                    ) -> tuple[str, float]:
    """The combiner (``gain`` or ``hard``) with the best mean per-group APGR in a
    ``folds``-fold cross-validation on these (training) rows, and that APGR."""
    w, s = np.asarray(weak_ok, bool), np.asarray(strong_ok, bool)
    best = ("gain", -np.inf)
    for name, cls in COMBINERS.items():
        def fit_predict(fit: np.ndarray, pred: np.ndarray, cls=cls) -> np.ndarray:
            m = cls.fit(pre[fit], None if post is None else post[fit], w[fit], s[fit])
            return m.score(pre[pred], None if post is None else post[pred])

        score = group_apgr(w, s, cross_fit(len(w), folds, seed, fit_predict), groups)
        if score > best[1]:
            best = (name, score)
    return best


KNN_GRID = tuple((k, scale) for k in (6, 12, 24) for scale in (3.0, 10.0, 30.0))


def group_apgr(weak_ok, strong_ok, score, groups: Sequence[str] | None = None) -> float:
    """Mean APGR over ``groups`` (each group where the strong model is ahead; all rows as
    one group when none are given); ``-inf`` when no group has a gap."""
    from slmkit.route.evaluate import apgr, curve

    w, s = np.asarray(weak_ok, bool), np.asarray(strong_ok, bool)
    g = np.asarray(groups if groups is not None and len(groups) else [""] * len(w))
    vals = [apgr(curve(w[g == k], s[g == k], score[g == k])) for k in dict.fromkeys(g)
            if s[g == k].mean() > w[g == k].mean()]
    return float(np.mean(vals)) if vals else -np.inf


def choose_knn(vectors: np.ndarray, weak_ok, strong_ok, groups: Sequence[str] | None = None,
               grid: Sequence[tuple[int, float]] = KNN_GRID) -> tuple[int, float, float]:
    """The ``(k, scale)`` of the kNN router with the best leave-one-out APGR (mean per
    group) on these (training) rows, and that APGR: chosen on training outcomes only."""
    x = _unit(vectors)
    sims = x @ x.T
    np.fill_diagonal(sims, -np.inf)
    w, s = np.asarray(weak_ok, float), np.asarray(strong_ok, float)
    best = (12, 10.0, -np.inf)
    for k, scale in grid:
        est, _, _ = neighbour_estimates(sims, w, s, k=k, scale=scale)
        score = group_apgr(w, s, est["p_strong"] - est["p_weak"], groups)
        if score > best[2] + 1e-9:
            best = (k, scale, score)
    return best
