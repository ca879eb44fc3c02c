"""Loaders that serve extra model names as a base model wrapped: :class:`PrefixLoader` serves
``PREFIX + KEY`` names wrapped per key (e.g. ``rag:COLLECTION``: the base model answering
from a collection), :class:`AliasLoader` one name (e.g. ``auto``: a routed model); every
other name goes to the loader they wrap.

What the prefix means comes from a :class:`PrefixedModels` given by the caller, so the
server never imports the feature behind it (RAG, …): they meet through ``core.Engine``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
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


class AliasLoader:
    """Serves one extra model ``name``: the model ``base`` (loaded by ``inner``) wrapped by
    ``wrap(engine) -> Engine`` (e.g. ``auto``: a local model routed to an upstream); other
    names go to ``inner``. ``/v1/models`` lists it with the base's facts and
    ``architecture``."""

    def __init__(self, inner: Any, name: str, base: str, wrap: Callable[[Engine], Engine], *,
                 architecture: str | None = None) -> None:
        self.inner, self.name, self.base, self.wrap = inner, name, base, wrap
        self.architecture = architecture
        self._base_spec: ModelSpec | None = None

    def resolve(self, name: str, **kw) -> ModelSpec:
        if name != self.name:
            return self.inner.resolve(name, **kw)
        self._base_spec = self.inner.resolve(self.base, **kw)
        return ModelSpec(self.name, self._base_spec.memory_bytes)

    def load(self, spec: ModelSpec) -> LoadResult:
        if spec.name != self.name:
            return self.inner.load(spec)
        if self._base_spec is None:
            self.resolve(self.name)
        result = self.inner.load(self._base_spec)
        try:
            engine = self.wrap(result.engine)
        except BaseException:
            result.engine.close()
            raise
        result.engine = engine
        return result

    def available(self) -> list[Available]:
        out = list(self.inner.available())
        base = next((m for m in out if m.name == self.base), None)
        info = None
        if base is not None and base.info is not None:
            info = replace(base.info, name=self.name,
                           architecture=self.architecture or base.info.architecture)
        return out + [Available(self.name, base.size_bytes if base else 0, None,
                                base.modified if base else 0.0, info)]
