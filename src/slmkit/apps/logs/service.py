"""The logs app as JSON-in, JSON-out handlers (``core.apps.AppHandler``) for ``slm serve``.

- ``logs/parse``   ``{"lines": [...] | "text": "...", "format"?, "stream"?}`` → records
- ``logs/detect``  ``{"lines" | "text", "format"?, "baseline"?: [...], "stream"?,
  "all"?: bool}`` → anomalies (or every record with ``"all": true``) and counts by type
- ``logs/explain`` the same input as detect, plus ``"model"?`` → anomalies with explanations

``"stream_id"`` (default ``"default"``) names a server-side stream: the parser's templates
and the detector's statistics carry on from one request to the next, so a log shipper can
POST batches. Anomaly counts per type are exposed as ``slm_log_anomalies_total{type=...}``
on ``/metrics`` (``counters()``).
"""

from __future__ import annotations

import threading
from collections import Counter, OrderedDict
from typing import Any

from slmkit.apps.logs import forms
from slmkit.apps.logs.detect import Detector, DetectorConfig
from slmkit.apps.logs.parser import LogParser

MAX_STREAMS = 64
MAX_LINES = 200_000


def _lines(payload: dict[str, Any], key: str = "lines", required: bool = True) -> list[str]:
    value = payload.get(key)
    if value is None and key == "lines" and isinstance(payload.get("text"), str):
        return payload["text"].splitlines()
    if value is None and not required:
        return []
    if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
        raise ValueError(f"{key}: required, a list of log lines (strings)"
                         + (" — or give the log as one string in text" if key == "lines"
                            else ""))
    if len(value) > MAX_LINES:
        raise ValueError(f"{key}: at most {MAX_LINES} lines per request, got {len(value)}; "
                         "send the log in batches with the same stream_id")
    return value


def _str(payload: dict[str, Any], key: str, default: str) -> str:
    value = payload.get(key, default)
    if not isinstance(value, str) or not value:
        raise ValueError(f"{key}: must be a non-empty string")
    return value


class _Stream:
    def __init__(self, fmt: str) -> None:
        self.fmt = fmt
        self.parser = LogParser(fmt=fmt)
        self.detector = Detector(DetectorConfig())
        self.lock = threading.Lock()


class LogsApp:
    """Shared state of the logs handlers: named streams and anomaly counters."""

    def __init__(self) -> None:
        self._streams: OrderedDict[str, _Stream] = OrderedDict()
        self._lock = threading.Lock()
        self.anomalies: Counter[str] = Counter()

    def stream(self, payload: dict[str, Any]) -> _Stream:
        """The named stream (created on first use; the least recently used one goes past
        ``MAX_STREAMS``). A stream keeps the format it was created with."""
        sid = _str(payload, "stream_id", "default")
        fmt = _str(payload, "format", "auto")
        with self._lock:
            s = self._streams.get(sid)
            if s is None:
                s = self._streams[sid] = _Stream(fmt)
                while len(self._streams) > MAX_STREAMS:
                    self._streams.popitem(last=False)
            elif "format" in payload and fmt != s.fmt:
                raise ValueError(f"format: stream {sid!r} was started with format {s.fmt!r}; "
                                 "use another stream_id for a different format")
            self._streams.move_to_end(sid)
            return s

    def detect(self, payload: dict[str, Any], progress=None) -> tuple[list[dict], dict]:
        """Run detection for one request: (checked records, baseline info or {})."""
        lines = _lines(payload)
        baseline = _lines(payload, "baseline", required=False)
        s = self.stream(payload)
        out: list[dict] = []
        with s.lock:
            info = {}
            if baseline:
                recs = [r for r in (s.parser.feed(x) for x in baseline) if r is not None]
                tail = s.parser.flush()
                info = s.detector.fit_baseline(recs + ([tail] if tail else []))
            for i, line in enumerate(lines, 1):
                rec = s.parser.feed(line)
                if rec is not None:
                    out.append(s.detector.check(rec))
                if progress is not None and i % 10_000 == 0:
                    progress({"done": i, "total": len(lines)})
            tail = s.parser.flush()
            if tail is not None:
                out.append(s.detector.check(tail))
        for r in out:
            for t in r["types"] or (["other"] if r["anomaly"] else []):
                self.anomalies[t] += 1
        return out, info

    def counters(self) -> list[tuple[str, str, dict[str, str], float]]:
        """Counters for ``/metrics``: (name, help, labels, value)."""
        return [("slm_log_anomalies", "log anomalies found, by type", {"type": t}, float(n))
                for t, n in sorted(self.anomalies.items())]


class ParseHandler:
    """``POST /v1/apps/logs/parse``."""

    name = "logs/parse"
    form = forms.PARSE

    def __init__(self, app: LogsApp) -> None:
        self.app = app

    def run(self, payload: dict[str, Any], progress=None) -> dict[str, Any]:
        lines = _lines(payload)
        s = self.app.stream(payload)
        with s.lock:
            recs = [r for r in (s.parser.feed(x) for x in lines) if r is not None]
            tail = s.parser.flush()
        recs += [tail] if tail is not None else []
        return {"records": recs, "templates": len(s.parser.drain.clusters)}


class DetectHandler:
    """``POST /v1/apps/logs/detect``."""

    name = "logs/detect"
    form = forms.DETECT

    def __init__(self, app: LogsApp) -> None:
        self.app = app

    def run(self, payload: dict[str, Any], progress=None) -> dict[str, Any]:
        show_all = payload.get("all", False)
        if not isinstance(show_all, bool):
            raise ValueError("all: must be true or false")
        recs, info = self.app.detect(payload, progress)
        flagged = [r for r in recs if r["anomaly"]]
        types = Counter(t for r in flagged for t in r["types"])
        return {"events": len(recs), "anomalies": recs if show_all else flagged,
                "counts": dict(types), "baseline": info or None}

    def counters(self):
        """The shared anomaly counters (the server renders them on ``/metrics``)."""
        return self.app.counters()


class ExplainHandler:
    """``POST /v1/apps/logs/explain``: detect, then explain each anomaly with a model."""

    name = "logs/explain"
    form = forms.EXPLAIN

    def __init__(self, app: LogsApp, engines) -> None:
        self.app, self.engines = app, engines
        self.cache: dict[tuple, dict[str, Any]] = {}

    def run(self, payload: dict[str, Any], progress=None) -> dict[str, Any]:
        from slmkit.apps.logs.explain import Explainer, explain_records

        model = payload.get("model")
        if model is not None and not isinstance(model, str):
            raise ValueError("model: must be a model name (string)")
        limit = payload.get("limit", 20)
        if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 1000:
            raise ValueError("limit: must be an integer from 1 to 1000")
        recs, _ = self.app.detect(payload)
        with self.engines(model) as engine:
            explainer = Explainer(engine, cache=self.cache)
            found = explain_records(recs, explainer, limit=limit, progress=progress)
        s = explainer.stats
        return {"events": len(recs), "explanations": found,
                "model_calls": s.model_calls, "cache_hits": s.cache_hits,
                "model_calls_per_1000_lines": round(s.per_1000_lines(), 3)}


def handlers(engines=None) -> dict[str, Any]:
    """The logs handlers by HTTP name, sharing one ``LogsApp``; ``logs/explain`` only when
    an engine source (``core.apps.EngineSource``) is given."""
    app = LogsApp()
    out: dict[str, Any] = {"logs/parse": ParseHandler(app), "logs/detect": DetectHandler(app)}
    if engines is not None:
        out["logs/explain"] = ExplainHandler(app, engines)
    return out
