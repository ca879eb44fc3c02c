"""Unsupervised anomaly detection on parsed log events.

Each event gets signals in [0, 1], combined into one score with fixed weights:

- ``new``: its template was never seen before (in the baseline or the stream so far);
- ``rare``: its template is rare (probability under 1e-2 starts counting, 1e-4 is full);
- ``burst``: its template is far more frequent in the last ``window`` events than its
  long-run rate predicts (a Poisson tail);
- ``numeric``: a numeric parameter lies far from what this template's slot has shown
  (z-score over a running mean/variance, from 4σ up);
- ``severity``: the record's level (FATAL/CRITICAL 1, ERROR 0.75, WARN 0.4);
- ``keyword``: an error word in the text (error, fail, exception, panic, timeout, ...).

The threshold is ``max(threshold, quantile(scores of the baseline))``: a baseline period of
normal operation raises the bar to what was ordinary there. The statistics keep learning
from the stream, so a template that becomes common stops being flagged.
"""

from __future__ import annotations

import math
import re
from collections import Counter, deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from slmkit.apps.logs.parser import LogParser

SEVERITY = {"FATAL": 1.0, "CRIT": 1.0, "CRITICAL": 1.0, "EMERG": 1.0, "ALERT": 1.0,
            "PANIC": 1.0, "SEVERE": 0.75, "ERROR": 0.75, "ERR": 0.75, "FAILURE": 0.75,
            "WARN": 0.4, "WARNING": 0.4}
KEYWORDS = re.compile(
    r"\b(errors?|fail(?:s|ed|ure)?|fatal|panic|exception|timed? ?out|refused|denied|abort"
    r"(?:ed)?|corrupt(?:ed|ion)?|unable|cannot|can't|crash(?:ed)?|killed|segfault|"
    r"segmentation fault|out of memory|oom|unreachable|lost)\b", re.IGNORECASE)
SIGNALS = ("new", "rare", "burst", "numeric", "severity", "keyword")
WEIGHTS = {"new": 1.0, "rare": 0.5, "burst": 0.5, "numeric": 1.0, "severity": 0.5,
           "keyword": 0.75}


@dataclass
class DetectorConfig:
    """Weights, window and threshold of the detector (defaults chosen a priori)."""

    weights: dict[str, float] = field(default_factory=lambda: dict(WEIGHTS))
    window: int = 200
    threshold: float = 1.0
    baseline_quantile: float = 0.995
    signal_floor: float = 0.5  # a signal at or above this names an anomaly type
    warmup: int = 50  # events learnt before the statistical signals count (no baseline)


class _Slot:
    """Running mean and variance (Welford) of one template slot's numeric values."""

    __slots__ = ("n", "mean", "m2")

    def __init__(self) -> None:
        self.n, self.mean, self.m2 = 0, 0.0, 0.0

    def z(self, x: float) -> float:
        if self.n < 10:
            return 0.0
        std = math.sqrt(self.m2 / (self.n - 1))
        return abs(x - self.mean) / std if std > 0 else (0.0 if x == self.mean else 99.0)

    def add(self, x: float) -> None:
        self.n += 1
        d = x - self.mean
        self.mean += d / self.n
        self.m2 += d * (x - self.mean)


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


class Detector:
    """Scores parsed records (``LogParser.record`` dicts) and learns from them as it goes."""

    def __init__(self, config: DetectorConfig | None = None) -> None:
        self.config = config or DetectorConfig()
        self.counts: Counter[str] = Counter()
        self.total = 0
        self.slots: dict[tuple[str, int], _Slot] = {}
        self.recent: deque[str] = deque(maxlen=self.config.window)
        self.recent_counts: Counter[str] = Counter()
        self.threshold = self.config.threshold

    # -- signals ---------------------------------------------------------------------------
    def signals(self, rec: dict[str, Any]) -> dict[str, float]:
        """Each signal for one record, against the statistics so far (nothing is learnt)."""
        tid = rec["event_id"]
        text = rec.get("content", "")
        static = {"severity": SEVERITY.get((rec.get("level") or "").upper(), 0.0),
                  "keyword": 1.0 if KEYWORDS.search(text) else 0.0}
        if self.total < self.config.warmup:  # too little seen to call anything new or rare
            return {"new": 0.0, "rare": 0.0, "burst": 0.0, "numeric": 0.0, **static}
        seen = self.counts[tid]
        p = (seen + 1) / (self.total + 2)
        rare = min(1.0, max(0.0, (-math.log10(p) - 2.0) / 2.0)) if seen else 1.0
        expected = len(self.recent) * seen / self.total if self.total else 0.0
        observed = self.recent_counts[tid] + 1
        burst = _poisson_burst(observed, expected) if seen else 0.0
        numeric = 0.0
        for i, value in enumerate(rec.get("params") or ()):
            x = _number(value)
            slot = self.slots.get((tid, i)) if x is not None else None
            if slot is not None:
                numeric = max(numeric, min(1.0, max(0.0, (slot.z(x) - 4.0) / 4.0)))
        return {"new": 0.0 if seen else 1.0, "rare": rare, "burst": burst, "numeric": numeric,
                **static}

    def score(self, signals: dict[str, float]) -> float:
        """The weighted sum of the signals."""
        w = self.config.weights
        return sum(w.get(k, 0.0) * v for k, v in signals.items())

    def learn(self, rec: dict[str, Any]) -> None:
        """Add one record to the statistics (template counts, window, slot values)."""
        tid = rec["event_id"]
        self.counts[tid] += 1
        self.total += 1
        if len(self.recent) == self.recent.maxlen:
            old = self.recent[0]
            self.recent_counts[old] -= 1
        self.recent.append(tid)
        self.recent_counts[tid] += 1
        for i, value in enumerate(rec.get("params") or ()):
            x = _number(value)
            if x is not None:
                self.slots.setdefault((tid, i), _Slot()).add(x)

    # -- use -------------------------------------------------------------------------------
    def check(self, rec: dict[str, Any]) -> dict[str, Any]:
        """Score one record, decide, then learn from it: the record plus the verdict."""
        sig = self.signals(rec)
        score = self.score(sig)
        self.learn(rec)
        anomaly = score >= self.threshold
        types = [k for k, v in sig.items() if v >= self.config.signal_floor] if anomaly else []
        return {**rec, "score": round(score, 4), "anomaly": anomaly, "types": types,
                "signals": {k: round(v, 3) for k, v in sig.items()}}

    def fit_baseline(self, records: Iterable[dict[str, Any]]) -> dict[str, Any]:
        """Learn a baseline period, then raise the threshold to its scores' quantile.

        Baseline records are learnt first and scored afterwards against the full baseline
        statistics (so the baseline's own first occurrences do not count as new)."""
        recs = list(records)
        for rec in recs:
            self.learn(rec)
        scores = sorted(self.score(self.signals(rec)) for rec in recs)
        if scores:
            q = scores[min(len(scores) - 1, int(self.config.baseline_quantile * len(scores)))]
            self.threshold = max(self.config.threshold, q + 1e-9)
        return {"lines": len(recs), "templates": len(self.counts),
                "threshold": round(self.threshold, 4)}


def _poisson_burst(observed: int, expected: float) -> float:
    """0 when ``observed`` is ordinary for a Poisson(``expected``) count, up to 1 when it is
    far in the tail (upper z-score 3 → 0, 6 → 1)."""
    if expected <= 0:
        return 0.0
    z = (observed - expected) / math.sqrt(expected)
    return min(1.0, max(0.0, (z - 3.0) / 3.0))


def detect_lines(lines: Iterable[str | None], parser: LogParser | None = None,
                 detector: Detector | None = None) -> Iterator[dict[str, Any]]:
    """Parse and score every event of ``lines``; yields each record with its verdict.

    A ``None`` in ``lines`` says the source is idle (``follow``): the pending event is
    complete. The parser's state is saved at the end, also when the reading is interrupted.
    """
    parser = parser or LogParser()
    detector = detector or Detector()
    try:
        for line in lines:
            rec = parser.flush() if line is None else parser.feed(line)
            if rec is not None:
                yield detector.check(rec)
        rec = parser.flush()
        if rec is not None:
            yield detector.check(rec)
    finally:
        parser.save()
