"""``serve.create_app`` over fake engines, in-process: a loader that hands out
:class:`~helpers.fake_engine.FakeLocal` engines by name, the app built the way ``slm serve``
builds it, and a real uvicorn server on loopback in a thread for the tests that need a
socket (client disconnects, concurrent streams, a remote engine pointed at it).
"""

from __future__ import annotations

import difflib
import socket
import threading
import time
from collections.abc import Callable

from helpers.fake_engine import FakeLocal
from slmkit.core.errors import ModelNotFoundError
from slmkit.serve.registry import Available, LoadResult, ModelDefaults, ModelSpec, Registry


class FakeLoader:
    """``serve.registry.Loader`` over engine factories: name → () -> engine."""

    def __init__(self, factories: dict[str, Callable[[], object]], *,
                 defaults: dict[str, ModelDefaults] | None = None,
                 memory: dict[str, int] | None = None) -> None:
        self.factories, self.defaults = factories, defaults or {}
        self.memory = memory or {}
        self.engines: dict[str, list] = {name: [] for name in factories}

    def resolve(self, name: str) -> ModelSpec:
        if name not in self.factories:
            raise ModelNotFoundError(name, suggestions=difflib.get_close_matches(
                name, list(self.factories), n=3))
        return ModelSpec(name, self.memory.get(name, 0))

    def load(self, spec: ModelSpec) -> LoadResult:
        engine = self.factories[spec.name]()
        self.engines[spec.name].append(engine)
        return LoadResult(engine, self.defaults.get(spec.name, ModelDefaults()),
                          digest="sha256:" + "0" * 64, load_seconds=0.01)

    def available(self) -> list[Available]:
        return [Available(name, size_bytes=1000 + i, digest="sha256:" + "0" * 64,
                          modified=1_700_000_000.0)
                for i, name in enumerate(sorted(self.factories))]

    def last(self, name: str):
        """The engine most recently loaded under ``name``."""
        return self.engines[name][-1]


def fake_app(loader: FakeLoader, *, queue: int = 8, memory_budget: int | None = None,
             keep_alive: float = 300.0, **app_options):
    """(app, service): ``create_app`` as ``slm serve`` wires it, over ``loader``."""
    from slmkit.serve.app import create_app
    from slmkit.serve.metrics import Metrics
    from slmkit.serve.service import Service

    registry = Registry(loader, keep_alive=keep_alive, memory_budget=memory_budget, queue=queue)
    service = Service(registry, Metrics(registry))
    return create_app(service, reap_interval=3600, **app_options), service


def one_model(name: str = "fake", **engine_options) -> FakeLoader:
    return FakeLoader({name: lambda: FakeLocal(name=name, **engine_options)})


class LiveServer:
    """An ASGI app served by uvicorn on 127.0.0.1 in a daemon thread, until :meth:`stop`."""

    def __init__(self, app) -> None:
        import uvicorn

        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, log_level="error", timeout_graceful_shutdown=2,
                                access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run,
                                        kwargs={"sockets": [self._sock]}, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 30  # a hang guard
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the in-process test server did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._sock.close()

    def __enter__(self) -> LiveServer:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
