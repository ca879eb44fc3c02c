"""How many CPU threads to use: the cores this process may use that other processes leave
free, revisited while decoding.

llama.cpp's threads wait for each other at every operation, so one thread preempted by
another process stalls them all: on a 2-core machine with one busy process, 2 threads
decoded at 0.25–22 tokens/s and 1 thread at 66–69 (issue 14). The default is therefore
the physical cores (taskset/container CPU sets and the cgroup CPU quota respected) minus
the cores other processes kept busy over a short window of ``/proc/stat`` (Linux; the
1-minute load average elsewhere), at least 1. An explicit count (``--threads N``) is
always used as given.
"""

from __future__ import annotations

import logging
import math
import os
import time
from dataclasses import dataclass

log = logging.getLogger("slmkit.threads")

SAMPLE_WINDOW_S = 0.2  # how long default_threads() watches /proc/stat
FREE_ROUNDING = 0.2  # 1.8 free cores -> 2 threads, 1.7 -> 1: a shared core stalls everyone


def cpu_cores() -> tuple[int, int]:
    """(physical, logical) cores this process may use (taskset and container CPU sets
    respected); each at least 1."""
    logical = os.cpu_count() or 1
    physical = _linux_physical_cores()  # what psutil reads, without its 10 ms import
    if not physical:
        try:
            import psutil

            physical = psutil.cpu_count(logical=False) or 0
        except Exception:  # noqa: BLE001, S110 - psutil missing or unable to tell
            pass
    allowed = len(_allowed_cpus() or ())
    if 0 < allowed < logical:
        logical, physical = allowed, min(physical or allowed, allowed)
    return max(1, physical or logical), max(1, logical)


def _linux_physical_cores() -> int:
    """Distinct cores in Linux's CPU topology (each core's sibling list once); 0 elsewhere."""
    import glob

    cores = set()
    for path in glob.glob("/sys/devices/system/cpu/cpu[0-9]*/topology/core_cpus_list") or \
            glob.glob("/sys/devices/system/cpu/cpu[0-9]*/topology/thread_siblings_list"):
        try:
            with open(path) as f:
                cores.add(f.read().strip())
        except OSError:
            return 0
    return len(cores)


def cpu_quota(root: str = "/sys/fs/cgroup") -> float | None:
    """The cgroup CPU quota in cores (``cpu.max`` v2, ``cpu.cfs_quota_us`` v1), or None."""
    try:
        with open(f"{root}/cpu.max") as f:
            quota, period = f.read().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:
        with open(f"{root}/cpu/cpu.cfs_quota_us") as f:
            quota = int(f.read())
        with open(f"{root}/cpu/cpu.cfs_period_us") as f:
            period = int(f.read())
        return quota / period if quota > 0 and period > 0 else None
    except (OSError, ValueError):
        return None


def choose_threads(physical: int, logical: int, busy_others: float,
                   quota: float | None = None) -> int:
    """Threads for CPU inference given the cores other processes keep busy.

    ``physical``/``logical``: the cores this process may use; ``busy_others``: logical
    cores' worth of time other processes used lately; ``quota``: a cgroup limit in cores.
    Free = min(logical, quota) - busy_others; threads = free rounded down (unless within
    0.2 of the next core), capped at the physical cores, at least 1.
    """
    capacity = float(logical) if quota is None else min(float(logical), quota)
    free = capacity - max(0.0, busy_others)
    return max(1, min(physical, math.floor(free + FREE_ROUNDING)))


@dataclass(frozen=True)
class CpuSample:
    """A point in time: busy and total jiffies of the allowed CPUs, and this process's
    own CPU seconds."""

    wall: float
    busy: int
    total: int
    own_cpu_s: float


def sample(cpus: set[int] | None = None, stat_text: str | None = None) -> CpuSample | None:
    """A ``CpuSample`` from ``/proc/stat`` (or ``stat_text``), None where there is none."""
    if stat_text is None:
        try:
            with open("/proc/stat") as f:
                stat_text = f.read()
        except OSError:
            return None
    cpus = _allowed_cpus() if cpus is None else cpus
    busy = total = 0
    for line in stat_text.splitlines():
        name, _, rest = line.partition(" ")
        if not (name.startswith("cpu") and name[3:].isdigit()):
            continue
        if cpus and int(name[3:]) not in cpus:
            continue
        ticks = [int(x) for x in rest.split()[:8]]
        idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)  # idle + iowait
        busy, total = busy + sum(ticks) - idle, total + sum(ticks)
    if not total:
        return None
    t = os.times()
    return CpuSample(time.monotonic(), busy, total, t.user + t.system)


def busy_others(a: CpuSample, b: CpuSample, n_cpus: int) -> float:
    """Cores' worth of CPU that *other* processes used between two samples: the allowed
    CPUs' busy share times their count, minus this process's own CPU time."""
    d_total = b.total - a.total
    wall = b.wall - a.wall
    if d_total <= 0 or wall <= 0:
        return 0.0
    busy = (b.busy - a.busy) / d_total * n_cpus
    own = (b.own_cpu_s - a.own_cpu_s) / wall
    return max(0.0, busy - own)


def measured_busy_others(window_s: float = SAMPLE_WINDOW_S,
                         since: CpuSample | None = None) -> float:
    """Cores other processes keep busy: ``/proc/stat`` over ``window_s``, else the 1-minute
    load average (which also counts this process: fine before a model loads). ``since``:
    a :func:`sample` taken earlier (before loading a model, say): the window runs from
    it, and only what is left of ``window_s`` is waited for."""
    first = since or sample()
    if first is None:
        try:
            return float(os.getloadavg()[0])
        except (OSError, AttributeError):
            return 0.0
    time.sleep(max(0.0, window_s - (time.monotonic() - first.wall)))
    second = sample()
    return busy_others(first, second, cpu_cores()[1]) if second else 0.0


def default_threads(since: CpuSample | None = None) -> int:
    """Threads for CPU inference now: the physical cores other processes leave free (see
    the module docstring), at least 1. ``since``: a :func:`sample` taken before work
    that took time anyway (a model load), so the measure costs no extra wait."""
    physical, logical = cpu_cores()
    if physical == 1:
        return 1
    return choose_threads(physical, logical, measured_busy_others(since=since), cpu_quota())


def physical_threads() -> int:
    """The physical cores this process may use, whatever the load (batch jobs that own
    the machine: quantizing, converting)."""
    return cpu_cores()[0]


def _allowed_cpus() -> set[int] | None:
    if hasattr(os, "sched_getaffinity"):
        return set(os.sched_getaffinity(0))
    return None


class DecodeWatch:
    """Watches decode speed while an engine runs and re-chooses its thread count.

    Feed it every decode-only step (``record(seconds)``: each step yields one token per
    running sequence, so steps per second is the per-sequence decode rate). Every
    ``window_s`` seconds of decoding it compares the rate with the best seen so far and
    with what other processes used meanwhile: it warns when the rate collapsed (below
    ``collapse_ratio`` of the best) and, when ``auto``, returns a new thread count when
    the free cores changed. ``threads`` is the count in use now.
    """

    def __init__(self, threads: int, *, auto: bool, window_s: float = 2.0,
                 collapse_ratio: float = 0.25, warn_every_s: float = 60.0) -> None:
        self.threads, self.auto = threads, auto
        self.window_s, self.collapse_ratio, self.warn_every_s = (
            window_s, collapse_ratio, warn_every_s)
        self.best_rate = 0.0
        self.last_rate = 0.0
        self.collapses = 0
        self._last_warn = -math.inf
        self._restart()

    def _restart(self) -> None:
        self._start = sample()
        self._steps, self._seconds = 0, 0.0

    def record(self, seconds: float) -> int | None:
        """One decode-only step took ``seconds``; a new thread count to use, or None."""
        self._steps += 1
        self._seconds += seconds
        if self._seconds < self.window_s:
            return None
        rate = self._steps / self._seconds
        end = sample()
        physical, logical = cpu_cores()
        others = busy_others(self._start, end, logical) if self._start and end else 0.0
        self._restart()
        return self.judge(rate, others, physical, logical, cpu_quota())

    def judge(self, rate: float, others: float, physical: int, logical: int,
              quota: float | None) -> int | None:
        """One finished window: decode ``rate`` (tokens/s per sequence) while other
        processes kept ``others`` cores busy. Warns on a collapse; a new count or None."""
        collapsed = self.best_rate > 0 and rate < self.collapse_ratio * self.best_rate
        self.last_rate, self.best_rate = rate, max(self.best_rate, rate)
        new = choose_threads(physical, logical, others, quota) if self.auto else self.threads
        if collapsed:
            self.collapses += 1
            self._warn(rate, others, logical, new)
        if new == self.threads:
            return None
        log.info("other processes keep %.1f of %d cores busy: decoding with %d threads "
                 "instead of %d", others, logical, new, self.threads)
        self.threads = new
        return new

    def _warn(self, rate: float, others: float, logical: int, new: int) -> None:
        now = time.monotonic()
        if now - self._last_warn < self.warn_every_s:
            return
        self._last_warn = now
        action = (f"now using {new} thread(s)" if self.auto and new != self.threads
                  else f"using {self.threads} thread(s)")
        fix = ("" if self.auto else
               f"; --threads {choose_threads(logical, logical, others)} may help")
        log.warning("decode slowed to %.1f tokens/s per sequence (best %.1f): other "
                    "processes keep %.1f of %d cores busy; %s%s", rate, self.best_rate,
                    others, logical, action, fix)
