"""Anomaly detection quality on labelled logs (BGL), against Isolation Forest and PCA.

The labelled file's first field is ``-`` for a normal line or an alert category; the label is
replaced by ``-`` before any method sees a line. Every method is unsupervised and sees the
same events: ours streams them once; the baselines (loglizer's setup, scikit-learn) fit on
all of them without labels — Isolation Forest with contamination 0.03, PCA's squared
prediction error with the Q-statistic threshold (alpha 0.001) — over TF-IDF-weighted
template counts. Scores are given per line and per fixed window of lines (a window is an
anomaly when one of its lines is, as in loglizer's sliding windows).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from slmkit.apps.logs.detect import Detector, DetectorConfig, detect_lines
from slmkit.apps.logs.parser import LogParser


def load_labelled(path: str | Path) -> tuple[list[str], list[bool]]:
    """(lines with the label field blanked to ``-``, is-anomaly per line)."""
    lines, labels = [], []
    with open(path, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            line = line.rstrip("\n")
            if not line.strip():
                continue
            label, _, rest = line.partition(" ")
            lines.append("- " + rest)
            labels.append(label != "-")
    if not lines:
        raise ValueError(f"{path} has no lines")
    return lines, labels


def prf(pred: Sequence[bool], truth: Sequence[bool]) -> dict[str, float]:
    """Precision, recall and F1 of boolean predictions."""
    tp = sum(p and t for p, t in zip(pred, truth))
    fp = sum(p and not t for p, t in zip(pred, truth))
    fn = sum(t and not p for p, t in zip(pred, truth))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 3), "recall": round(recall, 3), "f1": round(f1, 3),
            "flagged": tp + fp}


def windows(flags: Sequence[bool], size: int) -> list[bool]:
    """Fixed windows of ``size`` lines: True when any line in the window is."""
    return [any(flags[i:i + size]) for i in range(0, len(flags), size)]


def run_ours(lines: list[str], fmt: str, config: DetectorConfig | None = None
             ) -> tuple[list[dict[str, Any]], float]:
    """Our detector over the stream: (records with verdicts, lines per second)."""
    start = time.perf_counter()
    recs = list(detect_lines(lines, LogParser(fmt=fmt, multiline=False), Detector(config)))
    return recs, len(lines) / (time.perf_counter() - start)


def _matrix(records: list[dict[str, Any]], group: int = 1):
    """TF-IDF-weighted template counts per ``group`` consecutive lines (the level is part of
    the key), zero-mean — loglizer's event count matrix."""
    import numpy as np

    keys = sorted({(r["event_id"], r.get("level") or "") for r in records})
    index = {k: i for i, k in enumerate(keys)}
    x = np.zeros(((len(records) + group - 1) // group, len(keys)))
    for row, r in enumerate(records):
        x[row // group, index[(r["event_id"], r.get("level") or "")]] += 1.0
    df = (x > 0).sum(axis=0)
    x = x * np.log(len(records) / df)
    return x - x.mean(axis=0)


def run_isolation_forest(records: list[dict[str, Any]], group: int = 1,
                         seed: int = 0) -> list[bool]:
    """Isolation Forest (loglizer's settings: 100 trees, contamination 0.03), one verdict
    per ``group`` lines."""
    from sklearn.ensemble import IsolationForest

    model = IsolationForest(n_estimators=100, contamination=0.03, random_state=seed)
    return [bool(v == -1) for v in model.fit_predict(_matrix(records, group))]


def run_pca(records: list[dict[str, Any]], group: int = 1, variance: float = 0.95,
            c_alpha: float = 3.2905) -> list[bool]:
    """PCA anomaly detection (Xu et al. 2009, as in loglizer): squared prediction error in
    the residual subspace above the Q-statistic threshold; one verdict per ``group`` lines."""
    import numpy as np

    x = _matrix(records, group)
    cov = x.T @ x / max(len(x), 1)
    values, vectors = np.linalg.eigh(cov)
    order = np.argsort(values)[::-1]
    values, vectors = values[order], vectors[:, order]
    total = values.sum()
    k = int(np.searchsorted(np.cumsum(values) / total, variance) + 1) if total > 0 else 0
    p = vectors[:, :k]
    residual = x - x @ p @ p.T
    spe = (residual ** 2).sum(axis=1)
    lam = values[k:]
    phi = [float((lam ** i).sum()) for i in (1, 2, 3)]
    if phi[0] <= 1e-12 or phi[1] <= 1e-24:  # no residual subspace: nothing stands out
        return [False] * len(spe)
    h0 = 1.0 - 2 * phi[0] * phi[2] / (3.0 * phi[1] ** 2)
    q = phi[0] * (c_alpha * np.sqrt(2 * phi[1] * h0 ** 2) / phi[0] + 1.0
                  + phi[1] * h0 * (h0 - 1) / phi[0] ** 2) ** (1.0 / h0)
    return [bool(s > q) for s in spe]


def evaluate_detection(path: str | Path, fmt: str = "bgl", window: int = 20
                       ) -> dict[str, Any]:
    """Line- and window-level P/R/F1 of ours, Isolation Forest and PCA on one labelled file."""
    lines, labels = load_labelled(path)
    recs, speed = run_ours(lines, fmt)
    ours = [r["anomaly"] for r in recs]
    truth_w = windows(labels, window)
    methods = {"slmkit": {"line": prf(ours, labels), "window": prf(windows(ours, window),
                                                                    truth_w)}}
    try:
        for name, run in (("isolation_forest", run_isolation_forest), ("pca", run_pca)):
            methods[name] = {"line": prf(run(recs), labels),
                             "window": prf(run(recs, window), truth_w)}
    except ImportError:
        pass  # scikit-learn/numpy absent: ours only (install slmkit[apps])
    return {"lines": len(lines), "anomalies": sum(labels), "lines_per_s": round(speed),
            "window": window, "methods": methods}
