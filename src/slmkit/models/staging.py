"""Staging directories under ``$SLM_HOME/tmp/`` and the sweep that removes abandoned ones.

Every pull, derivation or scratch run works in a directory whose name carries its owner's
process id: ``<label>~<pid>~<random>`` (the label is a model name or ``work-``). A process killed with SIGKILL
cannot clean up after itself, so its directory stays behind, possibly holding gigabytes of a
half-copied model. :func:`sweep_stale` removes every directory whose owner is no longer alive
on this machine; directories of live processes (another pull running now) are left alone.
"""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

def owner_pid(entry: Path) -> int | None:
    """The process id a staging directory's name carries, or None for a foreign name."""
    parts = entry.name.split("~")
    if len(parts) < 3 or not parts[-2].isdigit():
        return None
    return int(parts[-2])


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists here (a pid we may not signal still exists)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except OSError as e:
        return e.errno == errno.EPERM
    return True


def sweep_stale(tmp: Path) -> list[Path]:
    """Remove the staging directories in ``tmp`` whose owner process is gone.

    Returns what was removed. Entries without an owner in their name (not ours) and entries
    of live processes are kept."""
    removed: list[Path] = []
    try:
        entries = list(tmp.iterdir())
    except FileNotFoundError:
        return removed
    for entry in entries:
        pid = owner_pid(entry)
        if pid is None or pid == os.getpid() or pid_alive(pid):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed.append(entry)
    return removed


def scratch_prefix(prefix: str) -> str:
    """The ``mkdtemp`` prefix for a scratch directory owned by this process."""
    return f"{prefix}~{os.getpid()}~"
