"""A :class:`~slmkit.serve.registry.Loader` that serves ``PREFIX + KEY`` model names as a
base model wrapped per key (e.g. ``rag:COLLECTION``: the base model answering from a
collection), and hands every other name to the loader it wraps.

What the prefix means comes from a :class:`PrefixedModels` given by the caller, so the
server never imports the feature behind it (RAG, …): they meet through ``core.Engine``.
"""

from __future__ import annotations

from typing import Any, Protocol

from slmkit.core.engine import Engine, ModelInfo
from slmkit.serve.registry import Available, LoadResult, ModelSpec


class PrefixedModels(Protocol):
    """The models behind a prefix: ``check(key)`` raises ``ModelNotFoundError`` for an
    unknown key; ``base_name()`` names the model that is wrapped; ``wrap`` makes the
    engine served as ``name``; ``keys()`` lists what ``/v1/models`` shows."""

    prefix: str

    def check(self, key: str) -> None: ...

    def base_name(self) -> str: ...

    def wrap(self, engine: Engine, key: str, name: str) -> Engine: ...

    def keys(self) -> list[str]: ...


class PrefixLoader:
    """Serves ``models.prefix + KEY`` through ``models``; other names go to ``inner``."""

    def __init__(self, inner: Any, models: PrefixedModels) -> None:
        self.inner, self.models = inner, models
        self._base: dict[str, ModelSpec] = {}

    def __getattr__(self, name: str):  # the inner loader's extras (adapters, registry, …)
        return getattr(self.inner, name)

    def resolve(self, name: str, **kw) -> ModelSpec:
        if not (name or "").startswith(self.models.prefix):
            return self.inner.resolve(name, **kw)
        self.models.check(name[len(self.models.prefix):])
        base = self.inner.resolve(self.models.base_name(), **kw)
        self._base[name] = base
        return ModelSpec(name, base.memory_bytes)

    def load(self, spec: ModelSpec) -> LoadResult:
        if not spec.name.startswith(self.models.prefix):
            return self.inner.load(spec)
        result = self.inner.load(self._base[spec.name])
        key = spec.name[len(self.models.prefix):]
        result.engine = self.models.wrap(result.engine, key, spec.name)
        return result

    def available(self) -> list[Available]:
        p = self.models.prefix
        return self.inner.available() + [Available(p + k, info=ModelInfo(name=p + k))
                                         for k in self.models.keys()]
