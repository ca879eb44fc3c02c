"""The server's :class:`~slmkit.serve.registry.Loader` over the local model store.

Names go through ``slmkit.models.load`` like every other way of opening a model: resolve →
detect the backend (GGUF → llama.cpp, ONNX Runtime GenAI directory → onnx, Hugging Face
directory → torch) → the memory check for that backend → load. ``n_parallel``/``max_queue``
reach only a batching backend (llama.cpp); the others serve one request at a time and the
registry admits ``1 + queue`` requests for them.

Clients may only name models (stored names or catalog aliases, optionally ``@ENGINE``),
never paths or sources, and a request never pulls; models named on the command line may be
paths or specs and are pulled unless ``pull`` is off. The backend modules are imported
only when a model is loaded.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from typing import Any

from slmkit.serve.registry import Available, LoadResult, ModelDefaults, ModelSpec


@dataclass(frozen=True)
class LoadOptions:
    """How the server opens every model (``slm serve``'s --ctx, --threads, …)."""

    n_ctx: int = 4096
    n_threads: int = 0
    n_parallel: int = 4  # sequences decoded together, each with its own n_ctx (llama.cpp)
    max_queue: int = 64
    n_gpu_layers: int = 0  # layers llama.cpp offloads to the GPU (-1: all)
    draft: str | None = None  # a draft model (name or GGUF) for speculative decoding
    verbose: bool = False
    pull: bool = True  # pull catalog models named on the command line

    def engine_options(self) -> dict:
        """Backend options set only when asked for (a remote engine takes none)."""
        options = {"n_gpu_layers": self.n_gpu_layers, "draft": self.draft}
        return {k: v for k, v in options.items() if v}


class StoreLoader:
    """Model names → the store → ``slmkit.models.load``. ``adapters`` (an
    ``adapt.serving.AdapterTable`` or None) serves ``BASE+ADAPTER`` names as views of the
    base's engine; ``registry`` is set by the server so a view can hold its base."""

    def __init__(self, options: LoadOptions, *, store: Any = None, adapters: Any = None,
                 early: EarlyLoad | None = None) -> None:
        from slmkit.models.store import Store

        self.options, self.store = options, store or Store()
        self.adapters = adapters
        self.registry = None
        self.early = early  # a start-up model already loading (see EarlyLoad)
        self._models: dict = {}  # served name → models.load.ResolvedModel
        self._from_paths: set[str] = set()  # served names of model files named at start-up

    def _adapter_view(self, name: str):
        return self.adapters.view(name) if self.adapters is not None else None

    def resolve(self, name: str, *, from_cli: bool = False) -> ModelSpec:
        """The served name and its estimated memory; raises ``ModelNotFoundError`` or
        ``ModelTooLargeError``."""
        from slmkit.core.errors import ModelNotFoundError
        from slmkit.models.load import check_fit, resolve, split_engine
        from slmkit.models.sources import is_source_spec

        if not from_cli and is_source_spec(split_engine(name)[0] or ""):
            raise ModelNotFoundError(name, hint="this server loads models by name; "
                                                "GET /v1/models lists them")
        if self._adapter_view(name):  # BASE+ADAPTER: no memory of its own beyond the base
            return ModelSpec(name, 0)
        o = self.options
        # a file named on the command line is served under its own name, which the store
        # does not know: that name (rag:NAME's base, a reload) resolves to the same file
        model = self._models[name] if name in self._from_paths else None
        if model is None:
            model = resolve(name, pull=from_cli and o.pull, store=self.store)
        est = check_fit(model, n_ctx=o.n_ctx, n_parallel=o.n_parallel)
        served = model.name if split_engine(name)[0] == name else f"{model.name}@{model.backend}"
        self._models[served] = model
        path = (split_engine(name)[0] or name) if name else None  # None: the default model
        if from_cli and path and served != name and os.path.exists(path):
            self._from_paths.add(served)
        return ModelSpec(served, est.total)

    def load(self, spec: ModelSpec) -> LoadResult:
        from slmkit.models.load import load

        view = self._adapter_view(spec.name)
        if view is not None:
            return self._load_view(*view)
        model, o = self._models[spec.name], self.options
        adapters = self.adapters.for_base(model.name) if self.adapters is not None else {}
        t0 = time.perf_counter()
        early, self.early = self.early, None
        loaded = early.take(model, o) if early is not None and not adapters else None
        if loaded is not None:
            engine, seconds = loaded
        else:
            engine = load(model, n_ctx=o.n_ctx, n_threads=o.n_threads, n_parallel=o.n_parallel,
                          max_queue=o.max_queue, verbose=o.verbose, check_memory=False,
                          adapters=adapters,  # checked in resolve; the registry keeps the budget
                          **o.engine_options())
            seconds = time.perf_counter() - t0
        return LoadResult(engine, ModelDefaults.from_prompt_defaults(model.prompt_defaults),
                          digest=model.ref.sha256, load_seconds=seconds)

    def _load_view(self, base: str, adapter: str) -> LoadResult:
        """BASE+ADAPTER: the base's engine with the adapter applied; the base stays in
        use (never unloaded) until this model is."""
        held = self.registry.acquire(base)
        try:
            engine = held.engine.with_adapter(adapter,
                                              on_close=lambda: self.registry.release(held))
        except BaseException:
            self.registry.release(held)
            raise
        return LoadResult(engine, held.defaults, digest=None)

    def available(self) -> list[Available]:
        """Adapter views of the bases named so far, then every stored language model."""
        out = []
        for full, base in self.adapters.names() if self.adapters is not None else []:
            model = self._models.get(base)
            out.append(Available(full, 0, None, _modified(model.path) if model else 0.0))
        for ref in self.store.list():
            try:
                manifest = self.store.manifest(ref.name)
            except Exception:  # noqa: BLE001, S112 - a broken manifest is skipped, not fatal
                continue
            if manifest.get("kind", "llm") != "llm":
                continue
            out.append(Available(ref.name, ref.size_bytes, ref.sha256,
                                 _modified(ref.path), _info_from_manifest(ref.name, manifest)))
        return out


class EarlyLoad:
    """The first start-up model, loading on a thread from the moment `slm serve` has parsed
    its arguments, while the server's own modules import and its app is built: llama.cpp
    releases the GIL while it maps the file and builds the vocabulary, so on two cores the
    two overlap and the server is ready sooner.

    Best effort and invisible: it never pulls, and any failure (an unknown name, a prefix
    such as ``rag:``, a model that does not fit) is dropped, so the normal path reports it.
    :meth:`take` hands the engine over only for the same file and the same options;
    otherwise the engine is closed and the caller loads as usual.
    """

    def __init__(self, name: str | None, options: LoadOptions, *, store: Any = None) -> None:
        from slmkit.models.load import resolve
        from slmkit.runtime import prepare_backend

        self.options, self._store = options, store
        self._result: tuple[Any, Any, float] | None = None  # (resolved model, engine, seconds)
        self._thread: threading.Thread | None = None
        try:  # on this thread: the store lookup, and every import the load needs
            self._model = resolve(name, pull=False, store=store)
            if self._model.backend != "llamacpp":  # the others hold the GIL while loading
                return
            prepare_backend(self._model.backend)
        except Exception:  # noqa: BLE001 - the normal load path reports the error
            return
        self._thread = threading.Thread(target=self._run, name="slm-early-load", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        from slmkit.models.load import check_fit, load

        o, model = self.options, self._model
        try:
            t0 = time.perf_counter()
            check_fit(model, n_ctx=o.n_ctx, n_parallel=o.n_parallel)
            engine = load(model, n_ctx=o.n_ctx, n_threads=o.n_threads,
                          n_parallel=o.n_parallel, max_queue=o.max_queue, verbose=o.verbose,
                          check_memory=False, **o.engine_options())
            self._result = (model, engine, time.perf_counter() - t0)
        except Exception:  # noqa: BLE001 - the normal load path reports the error
            self._result = None

    def take(self, model: Any, options: LoadOptions) -> tuple[Any, float] | None:
        """``(engine, load seconds)`` when the early load opened ``model`` with ``options``;
        else None (and an engine it opened is closed)."""
        result = self._pop()
        if result is None:
            return None
        early_model, engine, seconds = result
        if (early_model.path, early_model.backend, self.options) != (model.path, model.backend,
                                                                      options):
            engine.close()
            return None
        return engine, seconds

    def discard(self) -> None:
        """Close the engine if nobody took it (the server failed to start, say)."""
        result = self._pop()
        if result is not None:
            result[1].close()

    def _pop(self) -> tuple[Any, Any, float] | None:
        if self._thread is not None:
            self._thread.join()
        result, self._result = self._result, None
        return result


def _modified(path: str) -> float:
    try:
        return os.path.getmtime(path)
    except OSError:
        return 0.0


def _info_from_manifest(name: str, manifest: dict):
    from slmkit.core.engine import ModelInfo

    g = manifest.get("gguf") or {}
    return ModelInfo(name=name, architecture=g.get("architecture", ""),
                     n_params=int(g.get("parameters") or 0),
                     n_ctx_train=int(g.get("context_length") or 0),
                     n_embd=int(g.get("embedding_length") or 0),
                     quantization=g.get("quantization", ""),
                     size_bytes=int(manifest.get("size") or 0))
