"""File helpers: the sha256 of a file, writes that readers never see half-done, and
JSON-lines row caches that let an interrupted evaluation resume."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

CHUNK = 1 << 20  # read and hash in 1 MiB pieces


def copy_hashing(src: BinaryIO, dst: BinaryIO | None, hasher,
                 on_bytes: Callable[[int], None] | None = None) -> int:
    """Copy ``src`` to ``dst`` (None: just read) in 1 MiB chunks, feeding ``hasher``;
    ``on_bytes(done)`` after each chunk. Returns the bytes copied."""
    total = 0
    while chunk := src.read(CHUNK):
        if dst is not None:
            dst.write(chunk)
        hasher.update(chunk)
        total += len(chunk)
        if on_bytes:
            on_bytes(total)
    return total


def sha256_file(path: str | os.PathLike, on_bytes: Callable[[int], None] | None = None) -> str:
    """Hex sha256 of a file's content; ``on_bytes(done)`` reports progress."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        copy_hashing(f, None, h, on_bytes)
    return h.hexdigest()


def temp_sibling(path: str | os.PathLike) -> Path:
    """A hidden name next to ``path``, unique to this process and thread, for staging."""
    path = Path(path)
    tag = f"{os.getpid()}.{threading.get_ident()}.{uuid.uuid4().hex[:8]}"
    return path.with_name(f".{path.name}.{tag}.tmp")


def atomic_write(path: str | os.PathLike, data: bytes | str, *, mode: int | None = None,
                 fsync: bool = False) -> None:
    """Write ``data`` to ``path`` through a fresh temporary sibling and ``os.replace``:
    readers see the old file or the new one, never part of it. The temporary file is
    created with ``O_EXCL | O_NOFOLLOW`` (a planted file or symlink is never written
    through); ``mode`` (e.g. ``0o600``) is set on creation; ``fsync`` flushes to disk
    before the rename, so a crash leaves the old file or the new one."""
    path = Path(path)
    tmp = temp_sibling(path)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(tmp, flags, 0o666 if mode is None else mode)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(raw)
            if fsync:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_output(make: Callable[[Path], object], dest: str | os.PathLike) -> None:
    """Run ``make(tmp)`` to build a file or directory at a temporary sibling, then move it
    to ``dest`` (replacing what is there); nothing is left behind when ``make`` fails."""
    dest = Path(dest)
    tmp = temp_sibling(dest)
    try:
        make(tmp)
        if dest.is_dir():
            shutil.rmtree(dest)
        os.replace(tmp, dest)
    finally:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        elif tmp.exists():
            tmp.unlink()


def read_rows(path: str | os.PathLike, key: str) -> dict[str, dict]:
    """The rows of a JSON-lines file by their ``key`` field (empty when the file does not
    exist; a line cut short by an interruption is skipped)."""
    rows, p = {}, Path(path)
    if p.exists():
        for line in p.read_text(encoding="utf-8").splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            rows[row[key]] = row
    return rows


def append_row(path: str | os.PathLike, row: dict) -> None:
    """Append one row to a JSON-lines file (created with its folder)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    with p.open("a", encoding="utf-8") as f:
        f.write(json.dumps(row, ensure_ascii=False) + "\n")
