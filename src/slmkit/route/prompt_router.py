"""The prompt-only router the server runs before the local model answers: learned from
past outcomes (`route.outcomes`), saved as ``.npz`` arrays plus a JSON header (loaded with
``allow_pickle=False``), read by `slm serve --route LOCAL --difficulty FILE`.

Kinds (``slm route train --router``):

- ``knn``: RouteLLM's similarity-weighted ranking, per prompt — the expected gain
  p(strong right) − p(weak right) among the k nearest past prompts in hashed n-gram space
  (by default the prompt's and, apart, its question's, plus structure counts:
  `route.features`; `route.combine.neighbour_estimates`); the past prompts are kept as
  sparse hashed vectors, never as text;
- ``difficulty``: the logistic classifier of `route.difficulty` (p(hard));
- ``vote``: the mean of the two ranks (nothing fit on top; on the project's sets within
  0.02 APGR of the better of the two, which changes from set to set;
  docs/guard-and-route.md).

Every score is a **rank**: the share of the training prompts, scored out of fold (each by a
model that did not see it), that the router rates easier. So scores of every kind mean the
same, and the stored ``threshold`` — the lowest rank that reaches ``target_pgr`` of the
strong model's gain on those out-of-fold scores, training outcomes only — is the serving
default (``--max-difficulty`` overrides it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from slmkit.route import combine
from slmkit.route.difficulty import HashedFeatures, _sigmoid, featurizer_for
from slmkit.route.outcomes import Outcomes

FORMAT = "slmkit-prompt-router/1"
KINDS = ("vote", "knn", "difficulty")


def rank(ref: np.ndarray, x: np.ndarray) -> np.ndarray:
    """The share of the sorted ``ref`` below each ``x`` (ties count half)."""
    lo = np.searchsorted(ref, x, "left")
    hi = np.searchsorted(ref, x, "right")
    return (lo + hi) / (2.0 * max(1, len(ref)))


@dataclass
class Neighbours:
    """Past prompts as unit-length sparse rows (CSR) with each model's results."""

    indptr: np.ndarray
    indices: np.ndarray
    values: np.ndarray
    weak_ok: np.ndarray
    strong_ok: np.ndarray
    k: int = 12
    scale: float = 10.0
    prior: float = 1.0

    @classmethod
    def from_dense(cls, x: np.ndarray, weak_ok, strong_ok, **kw) -> Neighbours:
        x = combine._unit(x)
        rows, cols = np.nonzero(x)
        indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=len(x)))])
        return cls(indptr.astype(np.int64), cols.astype(np.int32),
                   x[rows, cols].astype(np.float32), np.asarray(weak_ok, float),
                   np.asarray(strong_ok, float), **kw)

    def similarities(self, q: np.ndarray) -> np.ndarray:
        """Cosine similarity of each query row to every past prompt."""
        q = combine._unit(q)
        empty = np.diff(self.indptr) == 0
        out = np.empty((len(q), len(self.weak_ok)), np.float32)
        for i, row in enumerate(q):
            prod = np.append(self.values * row[self.indices], np.float32(0))
            out[i] = np.add.reduceat(prod, self.indptr[:-1])
            out[i, empty] = 0.0
        return out

    def gain(self, q: np.ndarray) -> np.ndarray:
        """p(strong right) − p(weak right) among each query's neighbours."""
        est, _, _ = combine.neighbour_estimates(self.similarities(q), self.weak_ok,
                                                self.strong_ok, k=self.k, scale=self.scale,
                                                prior=self.prior)
        return est["p_strong"] - est["p_weak"]


@dataclass
class PromptRouter:
    """A learned prompt router; ``p_hard(text)`` is its rank (see the module docstring),
    escalate when it is ``>= threshold``."""

    kind: str
    features: str
    refs: dict[str, np.ndarray]  # sorted out-of-fold raw scores per component
    threshold: float
    neighbours: Neighbours | None = None
    weights: np.ndarray | None = None  # the difficulty classifier's
    bias: float = 0.0
    metrics: dict = field(default_factory=dict)
    signal = "hard_rank"  # the decision's signal name and how its reason reads
    label = "hardness rank"

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown router kind {self.kind!r}; expected one of {KINDS}")
        self._featurizer: HashedFeatures = featurizer_for(self.features)

    def components(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """Raw scores per component for feature rows ``x``."""
        out = {}
        if self.kind in ("knn", "vote"):
            out["knn"] = self.neighbours.gain(x)
        if self.kind in ("difficulty", "vote"):
            out["difficulty"] = _sigmoid(x @ self.weights + self.bias)
        return out

    def combine(self, raw: dict[str, np.ndarray]) -> np.ndarray:
        """The final rank from raw component scores."""
        if self.kind != "vote":
            return rank(self.refs[self.kind], raw[self.kind])
        mean = (rank(self.refs["knn"], raw["knn"]) +
                rank(self.refs["difficulty"], raw["difficulty"])) / 2
        return rank(self.refs["vote"], mean)

    def scores(self, texts: list[str]) -> np.ndarray:
        """The rank of each prompt (higher: escalate first)."""
        return self.combine(self.components(self._featurizer.matrix(list(texts))))

    def p_hard(self, text: str) -> float:
        return float(self.scores([text])[0])

    # ---- files ---------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Arrays and a JSON header in an ``.npz`` (no pickled objects)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        header = {"format": FORMAT, "kind": self.kind, "features": self.features,
                  "threshold": self.threshold, "bias": self.bias, "metrics": self.metrics}
        arrays = {f"ref_{k}": v.astype(np.float64) for k, v in self.refs.items()}
        if self.neighbours is not None:
            n = self.neighbours
            header.update(k=n.k, scale=n.scale, prior=n.prior)
            arrays.update(indptr=n.indptr, indices=n.indices, values=n.values,
                          weak_ok=n.weak_ok.astype(np.uint8),
                          strong_ok=n.strong_ok.astype(np.uint8))
        if self.weights is not None:
            arrays["weights"] = self.weights.astype(np.float32)
        with open(path, "wb") as f:
            np.savez_compressed(f, header=np.frombuffer(json.dumps(header).encode(), np.uint8),
                                **arrays)
        return path

    @classmethod
    def from_arrays(cls, header: dict, a: dict[str, np.ndarray]) -> PromptRouter:
        """The router a file's header and arrays describe (``ValueError`` when they do
        not fit together)."""
        kind = header.get("kind")
        nb = None
        if kind in ("knn", "vote"):
            nb = Neighbours(a["indptr"].astype(np.int64), a["indices"].astype(np.int64),
                            a["values"].astype(np.float32), a["weak_ok"].astype(float),
                            a["strong_ok"].astype(float), int(header["k"]),
                            float(header["scale"]), float(header["prior"]))
            if len(nb.indptr) != len(nb.weak_ok) + 1 or nb.indptr[-1] != len(nb.values):
                raise ValueError("the neighbour arrays do not fit together")
        refs = {k[4:]: np.sort(v.astype(np.float64)) for k, v in a.items()
                if k.startswith("ref_")}
        router = cls(kind, header["features"], refs, float(header["threshold"]), nb,
                     a["weights"].astype(np.float32) if "weights" in a else None,
                     float(header.get("bias", 0.0)), header.get("metrics", {}))
        dim = router._featurizer.dimension
        if kind in ("difficulty", "vote") and (router.weights is None
                                               or router.weights.shape != (dim,)):
            raise ValueError(f"expected {dim} classifier weights")
        if nb is not None and len(nb.indices) and int(nb.indices.max()) >= dim:
            raise ValueError(f"neighbour features beyond {dim}")
        needed = {"vote": ("knn", "difficulty", "vote")}.get(kind, (kind,))
        if any(k not in refs or not len(refs[k]) for k in needed):
            raise ValueError(f"missing reference scores for {needed}")
        return router


def load(path: str | Path):
    """The router in ``path``: a :class:`PromptRouter`, or the plain difficulty classifier
    (`route.difficulty.DifficultyModel`) older `slm route train` runs wrote."""
    from slmkit.route.difficulty import FORMAT as CLASSIFIER, DifficultyModel

    try:
        with np.load(path, allow_pickle=False) as data:
            header = json.loads(data["header"].tobytes().decode())
            if header.get("format") == CLASSIFIER:
                return DifficultyModel.load(path)
            if header.get("format") != FORMAT:
                raise ValueError(f"unknown format {header.get('format')!r}, expected "
                                 f"{FORMAT!r} or {CLASSIFIER!r}")
            return PromptRouter.from_arrays(header, {k: data[k] for k in data.files})
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ValueError(f"{path} is not a router written by `slm route train`: {err}"
                         ) from None


def train(o: Outcomes, *, kind: str = "vote", target_pgr: float = 0.8, dimension: int = 4096,
          k: int = 12, folds: int = 5, seed: int = 0, features: str = "ask-ngrams"
          ) -> PromptRouter:
    """Fit a ``kind`` router on outcomes ``o`` and calibrate its threshold on out-of-fold
    scores of the same (training) outcomes; ``metrics`` holds the cross-validated APGR.
    ``k`` neighbours (0: k and the similarity scale chosen by leave-one-out APGR, mean per
    ``set`` when the outcomes name sets; on the project's sets that choice did not beat
    k=12 on held-apart halves). ``features``: ``ask-ngrams`` (`route.features`: the
    prompt's n-grams, its question's apart, structure counts) or ``hashed-ngrams`` (the
    prompt's n-grams only, what routers before issue 21 used)."""
    from slmkit.route.evaluate import apgr, best_threshold, curve

    if kind not in KINDS:
        raise ValueError(f"--router must be one of {KINDS}, got {kind!r}")
    w, s, hard = o.weak_ok.astype(bool), o.strong_ok.astype(bool), o.hard
    if len(o) < 10 or not hard.any() or hard.all():
        raise ValueError(f"need at least 10 outcomes, some where escalating helps (the "
                         f"strong model right, the weak one wrong) and some where it does "
                         f"not; got {len(o)} ({int(hard.sum())} such)")
    feats = featurizer_for(f"{features}/{dimension}")
    x = feats.matrix(o.prompts)
    oof: dict[str, np.ndarray] = {}
    nb = weights = None
    bias = 0.0
    if kind in ("knn", "vote"):
        scale = 10.0
        if not k:
            k, scale, _ = combine.choose_knn(x, w, s, o.sets if any(o.sets) else None)
        nb = Neighbours.from_dense(x, w, s, k=k, scale=scale)
        sims = combine._unit(x) @ combine._unit(x).T
        np.fill_diagonal(sims, -np.inf)  # leave-one-out
        est, _, _ = combine.neighbour_estimates(sims, nb.weak_ok, nb.strong_ok, k=k,
                                                scale=scale)
        oof["knn"] = est["p_strong"] - est["p_weak"]
    if kind in ("difficulty", "vote"):
        oof["difficulty"] = _difficulty_oof(o.prompts, hard, folds, seed, feats.name)
        from slmkit.route.difficulty import fit_logistic

        weights, bias = fit_logistic(x, hard.astype(float))
    refs = {name: np.sort(v) for name, v in oof.items()}
    router = PromptRouter(kind, feats.name, refs, 0.0, nb, weights, bias)
    if kind == "vote":
        mean = (rank(refs["knn"], oof["knn"]) + rank(refs["difficulty"], oof["difficulty"])) / 2
        refs["vote"] = np.sort(mean)
    final = router.combine(oof)
    t = best_threshold(final, w, s, target_pgr)
    router.threshold = round(float(min(t, 1.0 + 1e-9) if t is not None else 0.5), 6)
    up = final >= router.threshold
    gap = float(s.mean() - w.mean())
    router.metrics = {
        "n": len(o), "hard_share": round(float(hard.mean()), 4),
        **({"k": nb.k, "scale": nb.scale} if nb is not None else {}),
        "weak_accuracy": round(float(w.mean()), 4), "strong_accuracy": round(float(s.mean()), 4),
        "cv_apgr": round(apgr(curve(w, s, final)), 4) if gap > 0 else None,
        "target_pgr": target_pgr, "threshold_reached": t is not None,
        "cv_escalated_share": round(float(up.mean()), 4),
        "cv_pgr": round(float((np.where(up, s, w).mean() - w.mean()) / gap), 4) if gap > 0
        else None}
    return router


def _difficulty_oof(prompts: list[str], hard: np.ndarray, folds: int, seed: int,
                    features: str) -> np.ndarray:
    """The classifier's p(hard) for each training prompt from a fit without its fold."""
    from slmkit.route.difficulty import train as fit

    def fit_predict(fit_idx: np.ndarray, pred_idx: np.ndarray) -> np.ndarray:
        y = hard[fit_idx]
        if y.min() == y.max():
            return np.full(len(pred_idx), float(y.mean()))
        kind, dimension = features.split("/")
        model = fit([prompts[i] for i in fit_idx], list(y), dimension=int(dimension),
                    holdout=0, features=kind)
        return model.scores([prompts[i] for i in pred_idx])

    return combine.cross_fit(len(prompts), folds, seed, fit_predict)
