"""Following a growing log file (``tail -F``): lines as they are appended, a ``None`` after
a quiet spell (so a pending multi-line event can be flushed), and reopening when the file
is rotated (replaced or truncated)."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path


def follow(path: str | Path, *, poll_s: float = 0.25, idle_s: float = 1.0,
           from_start: bool = True, stop: threading.Event | None = None
           ) -> Iterator[str | None]:
    """Yield lines of ``path`` as they are written; ``None`` once per quiet spell of
    ``idle_s``. Runs until ``stop`` is set (or forever). A partial last line waits for its
    newline."""
    path = Path(path)
    stop = stop or threading.Event()
    fh = open(path, encoding="utf-8", errors="replace", newline="")
    try:
        if not from_start:
            fh.seek(0, os.SEEK_END)
        ino, buf, quiet_since, flushed = os.fstat(fh.fileno()).st_ino, "", time.monotonic(), True
        while not stop.is_set():
            chunk = fh.readline()
            if chunk:
                buf += chunk
                if buf.endswith("\n"):
                    yield buf
                    buf, quiet_since, flushed = "", time.monotonic(), False
                continue
            if not flushed and time.monotonic() - quiet_since >= idle_s:
                flushed = True
                yield None
            if _rotated(path, ino, fh.tell()):
                fh.close()
                fh = open(path, encoding="utf-8", errors="replace", newline="")
                ino = os.fstat(fh.fileno()).st_ino
                continue
            stop.wait(poll_s)
    finally:
        fh.close()


def _rotated(path: Path, ino: int, pos: int) -> bool:
    try:
        st = path.stat()
    except FileNotFoundError:
        return False  # between rotation steps: keep the old handle until the new file exists
    return st.st_ino != ino or st.st_size < pos
