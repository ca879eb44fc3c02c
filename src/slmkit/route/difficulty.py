"""A difficulty score for prompts: a small logistic classifier on prompt features, trained
from logged outcomes (was the local answer good enough?) — no cloud key, no model download.

Features are hashed word uni/bigrams and character trigrams (sub-linear counts, L2-normed)
plus the log of the length: a fraction of a millisecond per prompt, so a router can decide
*before* running the local model. Any ``core.Embedder``-like ``embed(texts)`` can replace
them (``Featurizer`` protocol). The trained model is an ``.npz`` of arrays plus a JSON
header — loaded with ``allow_pickle=False``, so a model file cannot run code.

    model = train(prompts, hard_labels)
    model.save("difficulty.npz")
    DifficultyModel.load("difficulty.npz").p_hard("Prove that ...")   # 0.83
"""

from __future__ import annotations

import json
import math
import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

FORMAT = "slmkit-difficulty/2"
WORD_RE = re.compile(r"\w+|[^\w\s]", re.UNICODE)


class Featurizer(Protocol):
    name: str
    dimension: int

    def embed(self, texts: Sequence[str]) -> list[list[float]]: ...


def ngrams(text: str, prefix: str = "") -> list[str]:
    """Word uni/bigrams and character trigrams of ``text`` (lower-cased), named with
    ``prefix`` (a namespace of their own when hashed next to others)."""
    words = WORD_RE.findall(text.lower())
    grams = [f"{prefix}w:{w}" for w in words]
    grams += [f"{prefix}b:{a} {b}" for a, b in zip(words, words[1:])]
    squeezed = " ".join(words)
    return grams + [f"{prefix}c:{squeezed[i:i + 3]}" for i in range(len(squeezed) - 2)]


class VectorFeaturizer:
    """A :class:`Featurizer` built on ``vector(text)`` (length ``dimension``): the rows of many
    prompts at once."""

    dimension: int

    def vector(self, text: str) -> np.ndarray:
        raise TypeError(f"{type(self).__name__} does not define vector()")

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return [self.vector(t).tolist() for t in texts]

    def matrix(self, texts: Sequence[str]) -> np.ndarray:
        return np.stack([self.vector(t) for t in texts]) if texts else \
            np.zeros((0, self.dimension), np.float32)


class HashedFeatures(VectorFeaturizer):
    """Hashed n-gram counts: deterministic across processes and machines (CRC-32)."""

    def __init__(self, dimension: int = 4096) -> None:
        if dimension < 16:
            raise ValueError("dimension must be >= 16")
        self.dimension = dimension
        self.name = f"hashed-ngrams/{dimension}"

    def vector(self, text: str) -> np.ndarray:
        grams = ngrams(text)
        buckets = [zlib.crc32(g.encode("utf-8", "surrogatepass")) for g in grams]
        v = np.bincount(np.array(buckets, dtype=np.int64) % (self.dimension - 1),
                        minlength=self.dimension).astype(np.float32)
        np.log1p(v, out=v)
        norm = float(np.linalg.norm(v))
        if norm:
            v /= norm
        v[-1] = math.log1p(len(text)) / 10.0  # the last slot: length
        return v


@dataclass
class DifficultyModel:
    """p(hard | prompt) = sigmoid(w·x + b) over ``features``."""

    weights: np.ndarray
    bias: float
    features: str = "hashed-ngrams/4096"
    metrics: dict = field(default_factory=dict)
    _featurizer: HashedFeatures | None = field(default=None, repr=False)

    @property
    def featurizer(self) -> HashedFeatures:
        if self._featurizer is None:
            self._featurizer = featurizer_for(self.features)
        return self._featurizer

    def scores(self, texts: Sequence[str]) -> np.ndarray:
        x = self.featurizer.matrix(texts)
        return _sigmoid(x @ self.weights + self.bias)

    def p_hard(self, text: str) -> float:
        return float(self.scores([text])[0])

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        header = json.dumps({"format": FORMAT, "features": self.features,
                             "bias": self.bias, "metrics": self.metrics})
        with open(path, "wb") as f:
            np.savez(f, weights=self.weights.astype(np.float32),
                     header=np.frombuffer(header.encode(), dtype=np.uint8))
        return path

    @classmethod
    def load(cls, path: str | Path) -> DifficultyModel:
        try:
            with np.load(path, allow_pickle=False) as data:
                header = json.loads(data["header"].tobytes().decode())
                weights = data["weights"].astype(np.float32)
        except (OSError, ValueError, KeyError) as err:
            raise ValueError(f"{path} is not a difficulty model written by "
                             f"`slm route train`: {err}") from None
        if header.get("format") != FORMAT:
            raise ValueError(f"{path}: unknown format {header.get('format')!r}, "
                             f"expected {FORMAT!r}")
        model = cls(weights, float(header["bias"]), header["features"], header.get("metrics", {}))
        if model.featurizer.dimension != weights.shape[0]:
            raise ValueError(f"{path}: {weights.shape[0]} weights for "
                             f"{model.featurizer.dimension} features")
        return model


FEATURE_SETS = ("hashed-ngrams", "ask-ngrams")


def featurizer_for(name: str):
    """The featurizer a model file names: ``hashed-ngrams/N`` (:class:`HashedFeatures`) or
    ``ask-ngrams/N`` (`route.features.AskFeatures`: the ask and structure counts too)."""
    m = re.fullmatch(r"(hashed-ngrams|ask-ngrams)/(\d+)", name)
    if not m:
        raise ValueError(f"unknown feature set {name!r}; expected one of "
                         f"{', '.join(f + '/N' for f in FEATURE_SETS)}")
    if m.group(1) == "ask-ngrams":
        from slmkit.route.features import AskFeatures

        return AskFeatures(int(m.group(2)))
    return HashedFeatures(int(m.group(2)))


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))


def fit_logistic(x: np.ndarray, y: np.ndarray, *, l2: float = 1e-3, steps: int = 400,
                 lr: float = 0.5, balanced: bool = True) -> tuple[np.ndarray, float]:
    """L2-regularised logistic regression by full-batch gradient descent with Adam; with
    ``balanced``, classes are re-weighted to balance, so a rare label is still learned
    (without, the outputs stay calibrated probabilities). A mostly-zero ``x`` (hashed
    n-grams: about 5% filled) is multiplied as sparse triples, the same sums ~10x faster."""
    n, d = x.shape
    pos = float(y.mean()) if n else 0.5
    sw = np.where(y > 0.5, 0.5 / max(pos, 1e-6), 0.5 / max(1 - pos, 1e-6)).astype(np.float64)
    if not balanced:
        sw = np.ones(n)
    w, b = np.zeros(d), 0.0
    m_w, v_w, m_b, v_b = np.zeros(d), np.zeros(d), 0.0, 0.0
    b1, b2, eps = 0.9, 0.999, 1e-8
    xw, xte = _products(x)
    for t in range(1, steps + 1):
        err = (_sigmoid(xw(w) + b) - y) * sw
        g_w = xte(err) / n + l2 * w
        g_b = float(err.mean())
        m_w, v_w = b1 * m_w + (1 - b1) * g_w, b2 * v_w + (1 - b2) * g_w ** 2
        m_b, v_b = b1 * m_b + (1 - b1) * g_b, b2 * v_b + (1 - b2) * g_b ** 2
        c1, c2 = 1 - b1 ** t, 1 - b2 ** t
        w -= lr * (m_w / c1) / (np.sqrt(v_w / c2) + eps)
        b -= lr * (m_b / c1) / (math.sqrt(v_b / c2) + eps)
    return w.astype(np.float32), float(b)


def _products(x: np.ndarray):
    """``(x @ w, x.T @ e)`` as two functions: over the nonzero entries when ``x`` is
    sparse enough, else dense."""
    n, d = x.shape
    rows, cols = np.nonzero(x)
    if len(rows) > 0.25 * n * d:
        xd = x.astype(np.float64)
        return (lambda w: xd @ w), (lambda e: xd.T @ e)
    vals = x[rows, cols].astype(np.float64)
    return (lambda w: np.bincount(rows, weights=vals * w[cols], minlength=n),
            lambda e: np.bincount(cols, weights=vals * e[rows], minlength=d))


def auc(scores: np.ndarray, labels: np.ndarray) -> float | None:
    """Area under the ROC curve (probability a hard prompt outscores an easy one)."""
    pos, neg = scores[labels > 0.5], scores[labels <= 0.5]
    if not len(pos) or not len(neg):
        return None
    order = np.argsort(np.concatenate([pos, neg]), kind="mergesort")
    ranks = np.empty(len(order))
    ranks[order] = np.arange(1, len(order) + 1)
    return float((ranks[:len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def train(prompts: Sequence[str], hard: Sequence[bool], *, dimension: int = 4096,
          l2: float = 1e-3, steps: int = 400, holdout: float = 0.2, seed: int = 0,
          features: str = "hashed-ngrams") -> DifficultyModel:
    """Fit on ``prompts`` labelled hard (the local model failed) or not. A seeded
    ``holdout`` share is scored first (AUC, accuracy in ``metrics``); the returned model is
    then refit on everything."""
    if len(prompts) != len(hard):
        raise ValueError("prompts and labels differ in length")
    y = np.asarray(hard, dtype=np.float64)
    if len(y) < 10 or y.min() == y.max():
        raise ValueError(f"need at least 10 outcomes with both labels; got {len(y)} "
                         f"({int(y.sum())} hard)")
    feats = featurizer_for(f"{features}/{dimension}")
    x = feats.matrix(prompts)
    metrics = {"n": len(y), "hard_share": round(float(y.mean()), 4)}
    if holdout > 0:
        idx = np.random.default_rng(seed).permutation(len(y))
        cut = max(1, int(len(y) * holdout))
        test, fit = idx[:cut], idx[cut:]
        w, b = fit_logistic(x[fit], y[fit], l2=l2, steps=steps)
        p = _sigmoid(x[test] @ w + b)
        a = auc(p, y[test])
        metrics.update(holdout_n=int(cut), holdout_auc=None if a is None else round(a, 4),
                       holdout_accuracy=round(float(((p > 0.5) == (y[test] > 0.5)).mean()), 4))
    w, b = fit_logistic(x, y, l2=l2, steps=steps)
    return DifficultyModel(w, b, feats.name, metrics, feats)


def read_outcomes(path: str) -> tuple[list[str], list[bool]]:
    """Prompts and hard labels from JSONL (any form `route.outcomes` reads); a bad line is
    an error naming its number."""
    from slmkit.route.outcomes import read

    o = read(path)
    return o.prompts, [bool(h) for h in o.hard]


def train_file(data: str, output: str | Path | None = None, *, dimension: int = 4096,
               features: str = "hashed-ngrams") -> dict:
    """:func:`train` on the outcomes in ``data`` (:func:`read_outcomes`), saved to
    ``output`` (default ``$SLM_HOME/route/difficulty.npz``). Returns {model (its path),
    features, and the metrics}."""
    from slmkit.route.ledger import default_path

    model = train(*read_outcomes(data), dimension=dimension, features=features)
    out = Path(output) if output else default_path().parent / "difficulty.npz"
    model.save(out)
    return {"model": str(out), "features": model.features, **model.metrics}
