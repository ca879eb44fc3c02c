"""How many CPU threads to use."""

from __future__ import annotations

import os


def cpu_cores() -> tuple[int, int]:
    """(physical, logical) cores this process may use (taskset and container CPU sets
    respected); each at least 1."""
    logical = os.cpu_count() or 1
    physical = 0
    try:
        import psutil

        physical = psutil.cpu_count(logical=False) or 0
    except Exception:  # noqa: BLE001, S110 - psutil missing or unable to tell
        pass
    if hasattr(os, "sched_getaffinity"):
        allowed = len(os.sched_getaffinity(0))
        if 0 < allowed < logical:
            logical, physical = allowed, min(physical or allowed, allowed)
    return max(1, physical or logical), max(1, logical)


def default_threads() -> int:
    """Threads for CPU inference: the physical cores (hyper-threads only add contention)."""
    return cpu_cores()[0]
