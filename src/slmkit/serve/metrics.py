"""Prometheus metrics and the structured access log.

Counters and histograms are updated as requests run; gauges that describe state (queue
depth, busy slots, loaded models) are read from the registry at scrape time, so they can
never drift. Each app gets its own ``CollectorRegistry``.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily

from slmkit.core.errors import SlmError
from slmkit.core.types import Chunk
from slmkit.serve.speeds import RecentSpeeds

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
TTFT_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
ITL_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5)
DURATION_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)

access_logger = logging.getLogger("slmkit.access")


class _StateCollector:
    """Gauges read from the model registry when Prometheus scrapes."""

    def __init__(self, registry) -> None:
        self._registry = registry

    def collect(self) -> Iterable[GaugeMetricFamily]:
        models = self._registry.loaded()
        queue = GaugeMetricFamily("slm_queue_depth", "requests waiting for a slot",
                                  labels=["model"])
        busy = GaugeMetricFamily("slm_busy_slots", "sequences generating now", labels=["model"])
        slots = GaugeMetricFamily("slm_slots", "sequences a model runs at once", labels=["model"])
        memory = GaugeMetricFamily("slm_model_memory_bytes", "estimated memory of a loaded model",
                                   labels=["model"])
        for m in models:
            waiting, running, n_slots = _occupancy(m)
            queue.add_metric([m.name], waiting)
            busy.add_metric([m.name], running)
            slots.add_metric([m.name], n_slots)
            memory.add_metric([m.name], m.memory_bytes)
        loaded = GaugeMetricFamily("slm_loaded_models", "models loaded in memory")
        loaded.add_metric([], len(models))
        return [queue, busy, slots, memory, loaded]


def _occupancy(model) -> tuple[int, int, int]:
    """(waiting, busy, slots): the engine's own numbers when it reports them (a batching
    engine's ``stats()``), else the server's count of requests before/after their first
    token."""
    try:
        s = model.engine.stats()
    except SlmError:  # closed while unloading: the server's own count is still right
        s = {}
    if s:
        return s["waiting"], s["busy"], s["slots"]
    return model.waiting, model.running, model.slots


class Metrics:
    def __init__(self, model_registry=None) -> None:
        disable_created_metrics()  # *_created series only add noise here
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter("slm_requests", "HTTP requests by route and status",
                                ["route", "method", "status"], registry=r)
        self.duration = Histogram("slm_request_duration_seconds", "HTTP request latency",
                                  ["route"], buckets=DURATION_BUCKETS, registry=r)
        self.prompt_tokens = Counter("slm_prompt_tokens", "prompt tokens processed",
                                     ["model"], registry=r)
        self.cached_tokens = Counter("slm_prompt_cached_tokens",
                                     "prompt tokens reused from the cache", ["model"], registry=r)
        self.completion_tokens = Counter("slm_completion_tokens", "tokens generated",
                                         ["model"], registry=r)
        self.generations = Counter("slm_generations", "finished generations by finish reason",
                                   ["model", "finish_reason"], registry=r)
        self.ttft = Histogram("slm_time_to_first_token_seconds",
                              "time from request to first generated token", ["model"],
                              buckets=TTFT_BUCKETS, registry=r)
        self.itl = Histogram("slm_inter_token_latency_seconds",
                             "time between consecutive generated tokens", ["model"],
                             buckets=ITL_BUCKETS, registry=r)
        if model_registry is not None:
            r.register(_StateCollector(model_registry))
        self.speeds = RecentSpeeds()  # decode tokens/s per model, for the web UI

    def observer(self, model: str) -> GenerationObserver:
        return GenerationObserver(self, model)

    def render(self, apps: dict | None = None) -> bytes:
        """The exposition text; ``apps`` (``app.state.apps``) adds each app's counters."""
        text = generate_latest(self.registry)
        return text + _app_counters(apps) if apps else text


class _AppCounters:
    """Counters read from app handlers that have ``counters()`` (``core.apps``), at scrape
    time: each ``(name, help, labels, value)`` becomes a sample of the counter ``name``."""

    def __init__(self, apps: dict) -> None:
        self._apps = apps

    def collect(self):
        from prometheus_client.core import CounterMetricFamily

        families: dict[str, CounterMetricFamily] = {}
        seen: set[int] = set()
        for handler in self._apps.values():
            counters = getattr(handler, "counters", None)
            owner = getattr(counters, "__self__", counters)
            if counters is None or id(owner) in seen:
                continue
            seen.add(id(owner))
            for name, help_text, labels, value in counters():
                fam = families.get(name)
                if fam is None:
                    fam = families[name] = CounterMetricFamily(name, help_text,
                                                               labels=sorted(labels))
                fam.add_metric([labels[k] for k in sorted(labels)], value)
        return list(families.values())


def _app_counters(apps: dict) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_AppCounters(apps))
    return generate_latest(registry)


class GenerationObserver:
    """Per-generation metric updates (called from the generation's worker thread)."""

    def __init__(self, metrics: Metrics, model: str) -> None:
        self._m, self.model = metrics, model
        self._ttft = metrics.ttft.labels(model)
        self._itl = metrics.itl.labels(model)
        self.ttft_seconds: float | None = None

    def first_token(self, seconds: float) -> None:
        self.ttft_seconds = seconds
        self._ttft.observe(seconds)

    def token_gap(self, seconds: float) -> None:
        self._itl.observe(seconds)

    def done(self, last: Chunk | None, error: BaseException | None) -> None:
        m = self._m
        usage = last.usage if last is not None else None
        if usage is not None:
            m.prompt_tokens.labels(self.model).inc(usage.prompt_tokens)
            m.cached_tokens.labels(self.model).inc(usage.cached_tokens)
            m.completion_tokens.labels(self.model).inc(usage.completion_tokens)
            m.speeds.observe(self.model, usage)
        reason = (last.finish_reason if last is not None and last.finish_reason
                  else "error" if error is not None else "cancelled")
        m.generations.labels(self.model, reason).inc()


class AccessLogMiddleware:
    """Pure ASGI middleware: one JSON line per request on the ``slmkit.access`` logger,
    written when the response ends (streams included), and the request metrics.
    Handlers add fields (model, tokens, …) to ``scope["state"]["log"]``."""

    def __init__(self, app, metrics: Metrics, route_of: Callable[[str], str]) -> None:
        self.app, self.metrics, self.route_of = app, metrics, route_of

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()
        fields: dict = {}
        scope.setdefault("state", {})["log"] = fields
        status = {"code": 500}

        async def send_wrapper(message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            self._record(scope, status["code"], time.perf_counter() - t0, fields)

    def _record(self, scope, status: int, seconds: float, fields: dict) -> None:
        route = self.route_of(scope.get("path", ""))
        method = scope.get("method", "")
        self.metrics.requests.labels(route, method, str(status)).inc()
        self.metrics.duration.labels(route).observe(seconds)
        if not access_logger.isEnabledFor(logging.INFO):
            return
        client = scope.get("client") or ("", 0)
        line = {"ts": round(time.time(), 3), "client": client[0], "method": method,
                "path": scope.get("path", ""), "status": status,
                "ms": round(seconds * 1000, 1), **fields}
        access_logger.info(json.dumps(line, ensure_ascii=False, separators=(",", ":")))
