"""Connecting to Ray (or starting a small local head) and running a Serve application
until the process is told to stop."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from typing import Any

OBJECT_STORE_BYTES = 128 * 1024**2  # requests and chunks are small; Ray's floor is 75 MiB


def connect(address: str | None, *, num_cpus: int) -> bool:
    """``ray.init`` on ``address``, or a new local head on 127.0.0.1 (no dashboard,
    ``num_cpus`` logical CPUs, a small object store) when it is None. Returns whether a
    local head was started (it stops with :func:`disconnect`)."""
    from slmkit.scale import require_ray

    ray = require_ray()
    if ray.is_initialized():
        return False
    quiet = {"include_dashboard": False, "logging_level": "warning", "log_to_driver": True}
    if address:
        ray.init(address=address, **quiet)
        return False
    ray.init(address="local", num_cpus=max(1, num_cpus), num_gpus=0,
             object_store_memory=OBJECT_STORE_BYTES, _node_ip_address="127.0.0.1", **quiet)
    return True


def disconnect(*, local_head: bool, app_name: str | None) -> None:
    """Delete ``app_name`` from a shared cluster, or shut the local head down."""
    import ray
    from ray import serve

    if not ray.is_initialized():
        return
    if local_head:
        serve.shutdown()
    elif app_name:
        serve.delete(app_name)
    ray.shutdown()


def run_app(app: Any, *, name: str, host: str, port: int, address: str | None,
            num_cpus: int, on_ready: Callable[[], None] | None = None,
            ready: Callable[[], bool] | None = None) -> int:
    """Deploy ``app`` behind Ray's HTTP proxy on ``host:port`` and block until SIGINT or
    SIGTERM; then drain and stop. ``on_ready`` runs once the app answers (``ready``)."""
    from ray import serve

    local = connect(address, num_cpus=num_cpus)
    stopped: list[int] = []  # a signal handler must not take locks (Event.set would)
    previous = {s: signal.signal(s, lambda signum, _: stopped.append(signum))
                for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        serve.start(http_options={"host": host, "port": port}, proxy_location="HeadOnly")
        serve.run(app, name=name, route_prefix="/", blocking=False)
        while ready is not None and not stopped and not ready():
            time.sleep(0.5)
        if on_ready is not None and not stopped:
            on_ready()
        while not stopped:
            time.sleep(0.5)
        return 0
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        disconnect(local_head=local, app_name=name)
