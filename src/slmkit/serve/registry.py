"""Which models are loaded: load on first request, keep-alive, LRU unload under a budget.

The registry never imports a backend: it is given a :class:`Loader` that knows how to
resolve a name and load an engine (``serve.loader.StoreLoader`` over the model store, which
the CLI wraps for RAG and routing). Each loaded model counts its users (``active``); only an
idle model is unloaded, either when its keep-alive runs out (:meth:`Registry.reap`) or when
another model needs its memory (least recently used first). Models named on the command
line are pinned: never unloaded, whatever a client's ``keep_alive`` says (a client's
``keep_alive: -1`` only keeps a model until its memory is needed; ``0`` unloads an
unpinned model now).

Admission control lives here too: a model admits ``max_sequences + queue`` requests at
once; the next one gets ``QueueFullError`` (HTTP 429) without waiting.
"""

from __future__ import annotations

import difflib
import math
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

from slmkit.core.engine import Engine, ModelInfo
from slmkit.core.errors import ModelNotFoundError, QueueFullError, SlmError

GiB = 1024**3
SAMPLING_KEYS = ("temperature", "top_p", "top_k", "min_p", "repeat_penalty")


class MemoryBudgetError(SlmError):
    """Loading a model would exceed the server's memory budget (HTTP 503)."""

    code = "memory_budget"

    def __init__(self, message: str, *, retry_after: float | None = None,
                 hint: str | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(message, hint=hint)


@dataclass(frozen=True)
class ModelDefaults:
    """Per-model prompt defaults: the system prompt used when a chat has none, and sampling
    values used when a request leaves them out."""

    system: str | None = None
    sampling: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_prompt_defaults(cls, d: Mapping[str, Any] | None) -> ModelDefaults:
        d = d or {}
        return cls(system=d.get("system"),
                   sampling={k: d[k] for k in SAMPLING_KEYS if d.get(k) is not None})


@dataclass(frozen=True)
class ModelSpec:
    """A resolved model name and the memory it will need once loaded (bytes, 0 = unknown)."""

    name: str
    memory_bytes: int = 0


@dataclass(frozen=True)
class Available:
    """A model the server can load (for ``/api/tags`` and ``/v1/models``)."""

    name: str
    size_bytes: int = 0
    digest: str | None = None
    modified: float = 0.0
    info: ModelInfo | None = None


@dataclass
class LoadResult:
    engine: Engine
    defaults: ModelDefaults = field(default_factory=ModelDefaults)
    digest: str | None = None
    load_seconds: float = 0.0


class Loader(Protocol):
    """What the registry loads through. ``resolve`` raises ``ModelNotFoundError`` (or
    ``ModelTooLargeError``); ``memory_bytes`` of the spec is what the budget counts."""

    def resolve(self, name: str) -> ModelSpec: ...

    def load(self, spec: ModelSpec) -> LoadResult: ...

    def available(self) -> list[Available]: ...


class LoadedModel:
    """A loaded engine plus its bookkeeping. Counters are guarded by the registry's lock
    (``active``, ``expires_at``) or the model's own (``waiting``, ``running``)."""

    def __init__(self, spec: ModelSpec, result: LoadResult, *, pinned: bool, queue: int):
        self.name, self.memory_bytes = spec.name, spec.memory_bytes
        self.engine, self.defaults = result.engine, result.defaults
        self.digest, self.load_seconds = result.digest, result.load_seconds
        self.loaded_at = self.last_used = time.time()
        self.expires_at = math.inf if pinned else self.loaded_at
        self.pinned, self.active = pinned, 0
        self.slots = max(1, int(self.engine.info.capabilities.max_sequences))
        self.limit = self.slots + max(0, queue)
        self.waiting = self.running = 0
        self._lock = threading.Lock()

    @property
    def info(self) -> ModelInfo:
        return self.engine.info

    def admit(self) -> None:
        """Count one more request in flight, or raise ``QueueFullError``."""
        with self._lock:
            if self.waiting + self.running >= self.limit:
                depth = max(0, self.waiting + self.running - self.slots)
                raise QueueFullError(depth, retry_after=1.0)
            self.waiting += 1

    def started(self) -> None:
        """A request produced its first token: it holds a slot now."""
        with self._lock:
            self.waiting -= 1
            self.running += 1

    def finished(self, *, was_running: bool) -> None:
        with self._lock:
            if was_running:
                self.running -= 1
            else:
                self.waiting -= 1


class Registry:
    """Loaded models by name. Thread-safe; loading and unloading happen on the caller's
    thread (call from a worker thread, never the event loop)."""

    def __init__(self, loader: Loader, *, keep_alive: float = 300.0,
                 memory_budget: int | None = None, queue: int = 64) -> None:
        self.loader, self.keep_alive = loader, keep_alive
        self.memory_budget, self.queue = memory_budget, queue
        self._models: dict[str, LoadedModel] = {}
        self._specs: dict[str, ModelSpec] = {}  # requested name → resolved spec
        self._lock = threading.Lock()
        self._load_locks: dict[str, threading.Lock] = {}
        self._closed = False

    # ---- lookup and loading ----------------------------------------------------------------
    def resolve(self, name: str) -> ModelSpec:
        with self._lock:
            if name in self._models:
                m = self._models[name]
                return ModelSpec(m.name, m.memory_bytes)
            spec = self._specs.get(name)
        if spec is None:
            try:
                spec = self.loader.resolve(name)
            except ModelNotFoundError as err:
                raise self._not_served(name, err) from None
            with self._lock:
                self._specs[name] = spec
        return spec

    def _not_served(self, name: str, err: ModelNotFoundError) -> ModelNotFoundError:
        """The error for an unknown name, suggesting models this server has: the closest,
        else the loaded ones (most recently used first) then the rest; never catalog models
        it would not load."""
        loaded = [m.name for m in self.loaded()]
        served = loaded + [a.name for a in self.available() if a.name not in loaded]
        close = difflib.get_close_matches(name.lower(), served, n=3, cutoff=0.5)
        return ModelNotFoundError(name, suggestions=close or served[:5], hint=err.hint)

    def remember(self, spec: ModelSpec) -> None:
        """Record an already resolved name (models named on the command line)."""
        with self._lock:
            self._specs[spec.name] = spec

    def acquire(self, name: str, *, pinned: bool = False) -> LoadedModel:
        """The loaded model ``name`` (loading it if needed), counted as in use until
        :meth:`release`."""
        spec = self.resolve(name)
        model = self._take(spec.name, pinned)
        if model is not None:
            return model
        with self._lock:
            load_lock = self._load_locks.setdefault(spec.name, threading.Lock())
        with load_lock:  # one load per name; the others wait and find it loaded
            model = self._take(spec.name, pinned)
            if model is not None:
                return model
            self._make_room(spec)
            result = self.loader.load(spec)
            model = LoadedModel(spec, result, pinned=pinned, queue=self.queue)
            with self._lock:
                if self._closed:
                    result.engine.close()
                    raise SlmError("the server is shutting down")
                model.active = 1
                self._models[spec.name] = model
            return model

    def _take(self, name: str, pin: bool = False) -> LoadedModel | None:
        with self._lock:
            model = self._models.get(name)
            if model is not None:
                model.active += 1
                model.last_used = time.time()
                model.pinned = model.pinned or pin
            return model

    def release(self, model: LoadedModel, *, keep_alive: float | None = None) -> None:
        """One user is done. ``keep_alive`` (seconds; ``inf`` = until the memory is needed,
        ``0`` = unload now) replaces the default expiry of an unpinned model; pinned
        models ignore it."""
        unload = False
        with self._lock:
            model.active -= 1
            model.last_used = time.time()
            if model.pinned:  # named at start: the operator's choice, not a client's
                model.expires_at = math.inf
            else:
                ttl = self.keep_alive if keep_alive is None else keep_alive
                model.expires_at = model.last_used + ttl
            if (model.active == 0 and keep_alive == 0 and not model.pinned
                    and self._models.get(model.name) is model):
                del self._models[model.name]
                unload = True
        if unload:
            model.engine.close()

    # ---- memory and expiry -----------------------------------------------------------------
    def _make_room(self, spec: ModelSpec) -> None:
        """Unload idle models, least recently used first, until ``spec`` fits the budget."""
        budget = self.memory_budget
        if not budget or not spec.memory_bytes:
            return
        if spec.memory_bytes > budget:
            raise MemoryBudgetError(
                f"model {spec.name!r} needs about {spec.memory_bytes / GiB:.2f} GiB but the "
                f"server's memory budget is {budget / GiB:.2f} GiB",
                hint="start the server with a larger --memory-budget or use a smaller model")
        victims: list[LoadedModel] = []
        with self._lock:
            used = sum(m.memory_bytes for m in self._models.values())
            idle = sorted((m for m in self._models.values() if m.active == 0 and not m.pinned),
                          key=lambda m: m.last_used)
            while used + spec.memory_bytes > budget and idle:
                victim = idle.pop(0)
                del self._models[victim.name]
                used -= victim.memory_bytes
                victims.append(victim)
            short = used + spec.memory_bytes > budget
        for victim in victims:
            victim.engine.close()
        if short:
            raise MemoryBudgetError(
                f"loading {spec.name!r} ({spec.memory_bytes / GiB:.2f} GiB) would exceed the "
                f"memory budget of {budget / GiB:.2f} GiB: the loaded models are in use or "
                "pinned", retry_after=5.0,
                hint="retry shortly, or raise --memory-budget")

    def reap(self, now: float | None = None) -> list[str]:
        """Unload idle models whose keep-alive has run out; returns their names."""
        now = time.time() if now is None else now
        with self._lock:
            expired = [m for m in self._models.values()
                       if m.active == 0 and not m.pinned and m.expires_at <= now]
            for m in expired:
                del self._models[m.name]
        for m in expired:
            m.engine.close()
        return [m.name for m in expired]

    # ---- listing and lifecycle -------------------------------------------------------------
    def loaded(self) -> list[LoadedModel]:
        """Loaded models, most recently used first."""
        with self._lock:
            return sorted(self._models.values(), key=lambda m: m.last_used, reverse=True)

    def get_loaded(self, name: str) -> LoadedModel | None:
        with self._lock:
            spec = self._specs.get(name)
            return self._models.get(name) or (self._models.get(spec.name) if spec else None)

    def available(self) -> list[Available]:
        """Loadable models (the loader's) plus loaded ones it does not list, by name."""
        seen = {a.name: a for a in self.loader.available()}
        for m in self.loaded():
            if m.name not in seen:
                seen[m.name] = Available(m.name, m.info.size_bytes, m.digest, m.loaded_at,
                                         m.info)
        return sorted(seen.values(), key=lambda a: a.name)

    def memory_used(self) -> int:
        with self._lock:
            return sum(m.memory_bytes for m in self._models.values())

    def close(self) -> None:
        with self._lock:
            self._closed = True
            models, self._models = list(self._models.values()), {}
        for m in models:
            m.engine.close()


def engine_source(registry: Registry, default_model: str):
    """A ``core.apps.EngineSource`` over ``registry``: ``with engines(name) as engine``
    lends a loaded model's engine (``default_model`` when ``name`` is None) and gives it
    back after, so apps and chat share the loaded models."""

    @contextmanager
    def engines(model: str | None) -> Iterator[Engine]:
        loaded = registry.acquire(model or default_model)
        try:
            yield loaded.engine
        finally:
            registry.release(loaded)

    return engines
