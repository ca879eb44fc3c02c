"""The default thread count comes from the cores other processes leave free (issue 14)."""

from __future__ import annotations

import dataclasses
import logging
import subprocess
import sys

import pytest

from slmkit.util import threads as T


@pytest.mark.parametrize("physical, logical, busy, quota, expected", [
    (2, 2, 0.0, None, 2),     # idle machine: every physical core
    (2, 2, 1.0, None, 1),     # one busy process on 2 cores: 1 thread (issue 14's case)
    (2, 2, 0.15, None, 2),    # a little background noise does not cost a core
    (2, 2, 0.5, None, 1),     # half a core busy: a shared core would stall every thread
    (2, 2, 7.0, None, 1),     # overloaded: still at least one
    (8, 16, 4.0, None, 8),    # hyper-threads: 12 logical free, capped at 8 physical
    (8, 16, 12.0, None, 4),
    (8, 8, 0.0, 2.5, 2),      # a cgroup quota of 2.5 cores
    (4, 4, 0.0, 0.5, 1),      # a quota below one core
])
def test_choose_threads(physical, logical, busy, quota, expected):
    assert T.choose_threads(physical, logical, busy, quota) == expected


STAT_A = "cpu  10 0 10 100 0 0 0 0 0 0\ncpu0 5 0 5 50 0 0 0 0\ncpu1 5 0 5 50 0 0 0 0\n"
STAT_B = "cpu  x\ncpu0 105 0 5 50 0 0 0 0\ncpu1 5 0 5 150 0 0 0 0\n"  # cpu0 busy, cpu1 idle


def test_busy_others_from_proc_stat_samples():
    a, b = T.sample({0, 1}, STAT_A), T.sample({0, 1}, STAT_B)
    a = T.CpuSample(0.0, a.busy, a.total, own_cpu_s=0.0)
    b = T.CpuSample(1.0, b.busy, b.total, own_cpu_s=0.0)
    assert T.busy_others(a, b, 2) == pytest.approx(1.0)
    # this process used half a core of it: others used the rest
    b_own = T.CpuSample(1.0, b.busy, b.total, own_cpu_s=0.5)
    assert T.busy_others(a, b_own, 2) == pytest.approx(0.5)
    # only the CPUs this process may use count (affinity)
    a1, b1 = T.sample({1}, STAT_A), T.sample({1}, STAT_B)
    assert b1.busy - a1.busy == 0 and b1.total - a1.total == 100


def test_cgroup_quota(tmp_path):
    (tmp_path / "cpu.max").write_text("150000 100000\n")
    assert T.cpu_quota(str(tmp_path)) == pytest.approx(1.5)
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert T.cpu_quota(str(tmp_path)) is None
    v1 = tmp_path / "v1"
    (v1 / "cpu").mkdir(parents=True)
    (v1 / "cpu" / "cpu.cfs_quota_us").write_text("200000")
    (v1 / "cpu" / "cpu.cfs_period_us").write_text("100000")
    assert T.cpu_quota(str(v1)) == pytest.approx(2.0)
    assert T.cpu_quota(str(tmp_path / "none")) is None


def test_decode_watch_switches_threads_and_warns_on_collapse(caplog):
    watch = T.DecodeWatch(2, auto=True)
    assert watch.judge(60.0, 0.0, 2, 2, None) is None  # healthy, idle machine: keep 2
    with caplog.at_level(logging.WARNING, logger="slmkit.threads"):
        assert watch.judge(2.0, 1.0, 2, 2, None) == 1  # collapsed, a core busy: drop to 1
    assert watch.threads == 1 and watch.collapses == 1
    assert "decode slowed to 2.0 tokens/s" in caplog.text and "now using 1 thread" in caplog.text
    assert watch.judge(50.0, 0.0, 2, 2, None) == 2  # the other process ended: back to 2


def test_decode_watch_with_explicit_threads_only_warns(caplog):
    watch = T.DecodeWatch(2, auto=False)
    watch.judge(60.0, 0.0, 2, 2, None)
    with caplog.at_level(logging.WARNING, logger="slmkit.threads"):
        assert watch.judge(1.0, 1.2, 2, 2, None) is None
    assert watch.threads == 2
    assert "--threads 1 may help" in caplog.text


def test_default_threads_drops_when_cores_are_busy():
    """Integration: busy processes on every allowed core leave one thread (no timing)."""
    physical, logical = T.cpu_cores()
    spin = "import time\nt = time.time() + 30\nwhile time.time() < t: pass\n"
    procs = [subprocess.Popen([sys.executable, "-c", spin]) for _ in range(logical)]
    try:
        busy = T.measured_busy_others(0.5)
        chosen = T.default_threads()
    finally:
        for p in procs:
            p.kill()
            p.wait()
    assert busy > 0.5 * logical
    assert chosen == 1
    assert chosen < physical or physical == 1


def test_busy_others_since_an_earlier_sample_waits_only_the_rest(monkeypatch):
    """A model load measures the other processes' load while it runs: no extra wait."""
    first = T.sample()
    assert first is not None
    waits = []
    monkeypatch.setattr(T.time, "sleep", waits.append)
    T.measured_busy_others(0.2, since=dataclasses.replace(first, wall=first.wall - 1.0))
    T.measured_busy_others(0.2)
    assert waits[0] == 0.0 and 0.1 < waits[1] <= 0.2
