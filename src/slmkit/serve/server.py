"""Run the HTTP server over a loader (what `slm serve` does once it has parsed its options):
the registry, metrics and service, the app, uvicorn, and the start-up banner.

The caller builds the loader (the store's :class:`~slmkit.serve.loader.StoreLoader`, maybe
wrapped for ``rag:`` or routed models) and any extra routers with their ``app.state``
objects, so this module imports no feature package. Heavy imports happen in :func:`run`.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

@dataclass
class ServerOptions:
    """Network, security and scheduling options of :func:`run`."""

    host: str = "127.0.0.1"
    port: int = 8000
    api_keys: Sequence[str] = ()
    cors_origins: Sequence[str] = ()
    allowed_hosts: Sequence[str] = ()
    max_body_bytes: int = 4 * 1024 * 1024
    keep_alive: float = 300.0  # seconds idle before a model loaded on demand unloads; < 0: never
    memory_budget: int | None = None  # bytes for loaded models; None: no limit
    queue: int = 64
    request_timeout: float | None = None
    routers: Sequence[Any] = ()
    state: dict[str, Any] = field(default_factory=dict)


def registry(loader: Any, specs: Sequence[Any], options: ServerOptions, *,
             store_loader: Any = None):
    """The model registry over ``loader`` that :func:`run` serves: ``specs`` (resolved by
    ``loader``) are known by name; ``store_loader`` (the innermost loader, when it holds
    adapter views) is given the registry so a BASE+ADAPTER model can hold its base."""
    from slmkit.serve.registry import Registry

    o = options
    reg = Registry(loader, keep_alive=float("inf") if o.keep_alive < 0 else o.keep_alive,
                   memory_budget=o.memory_budget, queue=o.queue)
    if store_loader is not None:
        store_loader.registry = reg
    for spec in specs:  # paths named at start are known by name from now on
        reg.remember(spec)
    return reg


def build_app(registry: Any, specs: Sequence[Any], options: ServerOptions, *,
              on_ready: Any = None, on_fatal: Any = None):
    """The FastAPI app serving ``registry``: ``specs`` are loaded and pinned when it starts
    (then ``on_ready()`` runs); a fatal error while loading goes to ``on_fatal``. Used by
    :func:`run` and by the Ray Serve ingress (``slmkit.scale.ray_serve``)."""
    from slmkit.serve.app import create_app
    from slmkit.serve.auth import ApiKeys
    from slmkit.serve.metrics import Metrics
    from slmkit.serve.service import Service

    o = options
    service = Service(registry, Metrics(registry), request_timeout=o.request_timeout or None)

    def preload() -> None:
        for spec in specs:
            registry.release(registry.acquire(spec.name, pinned=True))
        if on_ready is not None:
            on_ready()

    return create_app(service, api_keys=ApiKeys(list(o.api_keys)),
                      cors_origins=list(o.cors_origins), max_body_bytes=o.max_body_bytes,
                      preload=preload, on_fatal=on_fatal, routers=o.routers,
                      bind_host=o.host, allowed_hosts=o.allowed_hosts, state=o.state)


def run(registry: Any, specs: Sequence[Any], options: ServerOptions) -> int:
    """Serve ``registry``'s models until stopped; ``specs`` are loaded and pinned at start,
    then the banner is printed. Returns 0, or 1 when the server never started; a fatal
    error while loading is raised."""
    import uvicorn

    o = options
    failure: list[BaseException] = []

    def on_fatal(err: BaseException) -> None:
        failure.append(err)
        server.should_exit = True

    app = build_app(registry, specs, options, on_fatal=on_fatal, on_ready=lambda: print(
        banner(o.host, o.port, specs[0].name, bool(o.api_keys)), flush=True))
    server = uvicorn.Server(uvicorn.Config(app, host=o.host, port=o.port, access_log=False,
                                           log_level="warning", timeout_graceful_shutdown=5,
                                           server_header=False))
    server.run()
    if failure:
        raise failure[0]
    return 0 if server.started else 1


def setup_logging(level: str) -> None:
    """The server's log (one JSON line per request at ``info``) on stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    root = logging.getLogger("slmkit")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False


def banner(host: str, port: int, model: str, keyed: bool) -> str:
    """What to tell the user once the server is up: its URLs, a curl and a Python call."""
    shown = f"[{host}]" if ":" in host else host
    base = f"http://{shown}:{port}"
    auth = ' -H "Authorization: Bearer $SLM_API_KEY"' if keyed else ""
    key = '"<your API key>"' if keyed else '"none"'
    return f"""slm serve: {model} ready at {base}  (OpenAI: {base}/v1, Ollama: {base}/api)

  curl {base}/v1/chat/completions{auth} -H "Content-Type: application/json" \\
    -d '{{"model": "{model}", "messages": [{{"role": "user", "content": "Hello!"}}]}}'

  from openai import OpenAI
  client = OpenAI(base_url="{base}/v1", api_key={key})
  r = client.chat.completions.create(model="{model}",
                                     messages=[{{"role": "user", "content": "Hello!"}}])
  print(r.choices[0].message.content)

  metrics: {base}/metrics · health: {base}/health · stop: Ctrl-C
"""
