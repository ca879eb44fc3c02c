"""Batch jobs fanned out over Ray tasks (`slm rag ingest --ray`, `slm eval --ray`): a
``fan_out(work, parts)`` that runs ``work(*part)`` for each part as a Ray task and returns
the results in order."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass
class RayFanOut:
    """``fan_out(work, parts)`` on Ray: ``address`` an existing cluster (``auto``,
    ``ray://HOST:10001``), else a local head on 127.0.0.1 with ``num_cpus`` CPUs, started
    for the call and stopped after it. Each task reserves ``task_cpus`` logical CPUs."""

    address: str | None = None
    num_cpus: int = 2
    task_cpus: float = 1.0

    def __call__(self, work: Callable, parts: list) -> list[Any]:
        from slmkit.scale.ray_cluster import connect

        local = connect(self.address, num_cpus=self.num_cpus)
        import ray

        try:
            task = ray.remote(num_cpus=self.task_cpus, max_retries=1)(work)
            return ray.get([task.remote(*part) for part in parts])
        finally:
            if local:
                ray.shutdown()


def eval_spread(model, *, address: str | None, shards: int, n_ctx: int, threads: int):
    """`slm eval --ray`: the scoring split into ``shards`` Ray tasks (on ``address`` or a
    local head), each opening ``model``'s file with ``n_ctx`` and ``threads`` (0: 1)."""
    import functools

    from slmkit.evaluate.suite import Spread
    from slmkit.models.load import load

    opener = functools.partial(load, model.path, backend=model.backend, n_ctx=n_ctx,
                               n_threads=threads or 1)
    return Spread(RayFanOut(address), opener, shards)
