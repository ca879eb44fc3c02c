"""Abandoned staging directories (a pull or derivation killed with SIGKILL) are swept; live
ones and foreign files are not."""

from __future__ import annotations

import os
import subprocess
import sys

from slmkit.models.staging import owner_pid, pid_alive, sweep_stale
from slmkit.models.store import Store


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_owner_pid_reads_the_pid_segment_even_when_the_name_has_digits(tmp_path):
    assert owner_pid(tmp_path / "model-123~4567~ab12cd34") == 4567
    assert owner_pid(tmp_path / "work-~88~x1y2") == 88
    assert owner_pid(tmp_path / "qwen2.5-coder-0.5b") is None
    assert owner_pid(tmp_path / "a~b~c") is None


def test_sweep_removes_only_dirs_of_dead_owners(tmp_path):
    dead, alive = _dead_pid(), os.getppid()
    assert not pid_alive(dead) and pid_alive(alive)
    (tmp_path / f"big~{dead}~deadbeef").mkdir()
    (tmp_path / f"big~{dead}~deadbeef" / "model.gguf").write_bytes(b"x" * 1000)
    (tmp_path / f"work-~{dead}~abc").mkdir()
    (tmp_path / f"other~{alive}~cafe0000").mkdir()
    (tmp_path / "user-notes.txt").write_text("not ours")

    removed = sweep_stale(tmp_path)

    assert sorted(p.name for p in removed) == sorted([f"big~{dead}~deadbeef", f"work-~{dead}~abc"])
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"other~{alive}~cafe0000",
                                                          "user-notes.txt"]


def test_a_pull_of_another_name_sweeps_a_killed_pulls_leftovers(tmp_path):
    from helpers.gguf_builder import build_tiny_gguf

    store = Store(tmp_path / "home")
    store.tmp.mkdir(parents=True)
    leftover = store.tmp / f"huge~{_dead_pid()}~0badf00d"
    leftover.mkdir()
    (leftover / "model").write_bytes(b"half a model")

    store.pull(str(build_tiny_gguf(tmp_path / "t.gguf")), name="tiny")

    assert not leftover.exists()
    assert store.has("tiny") and list(store.tmp.iterdir()) == []


def test_scratch_dirs_carry_their_owner_and_are_removed_after_use(tmp_path):
    store = Store(tmp_path / "home")
    with store.scratch() as work:
        assert owner_pid(work) == os.getpid()
    assert not work.exists()
