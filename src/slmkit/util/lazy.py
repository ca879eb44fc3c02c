"""Values built on first use: server state that few requests need (the apps' handlers,
the guard's service) costs nothing at start-up, where `slm serve` races to its first answer
(their imports took ~60 ms of its start; see docs/performance.md, "Cold start")."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any


class Deferred:
    """``build()`` called once, on the first :meth:`get` (thread-safe); a failure is raised
    to that caller and the next call tries again."""

    def __init__(self, build: Callable[[], Any]) -> None:
        self._build: Callable[[], Any] | None = build
        self._value: Any = None
        self._lock = threading.Lock()

    def get(self) -> Any:
        """The value, built now if it was not yet."""
        if self._build is not None:
            with self._lock:
                if self._build is not None:
                    self._value = self._build()
                    self._build = None
        return self._value

    @property
    def built(self) -> bool:
        return self._build is None


def resolve(value: Any) -> Any:
    """``value.get()`` for a :class:`Deferred`, else ``value`` itself."""
    return value.get() if isinstance(value, Deferred) else value


class LazyMapping(Mapping):
    """A read-only mapping whose contents ``build()`` makes on first use (any read)."""

    def __init__(self, build: Callable[[], Mapping]) -> None:
        self._deferred = Deferred(lambda: dict(build()))

    def __getitem__(self, key: Any) -> Any:
        return self._deferred.get()[key]

    def __iter__(self) -> Iterator:
        return iter(self._deferred.get())

    def __len__(self) -> int:
        return len(self._deferred.get())

    @property
    def built(self) -> bool:
        return self._deferred.built
