"""File-level steps of the store: putting a verified blob in place, describing a local file
or directory as if fetched, flushing to disk."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from slmkit.core.types import ModelRef
from slmkit.models.gguf_file import read_gguf
from slmkit.models.sources import Fetched, FileDigest, hash_tree, tree_digest
from slmkit.util.files import sha256_file


def put_blob(staged: Path, blob: Path) -> None:
    """Move a verified file or tree into place, synced to disk before the caller writes the
    manifest that names it. An existing blob of the same digest is replaced too: it may be
    the corrupted copy a forced pull is repairing.

    There is never a moment without ``blob``: a file is replaced by one atomic rename; an
    existing tree file by file (each rename atomic), then files the new tree lacks are
    removed. A crash part-way leaves every file present (old or new copy; ``slm verify``
    reports it, the re-run completes it), never a manifest pointing at a missing blob."""
    if not staged.is_dir():
        os.replace(staged, blob)  # atomic; readers of the old file keep their handle
        _fsync_dir(blob.parent)
        return
    _fsync_tree(staged)
    if not blob.exists():
        os.replace(staged, blob)
        _fsync_dir(blob.parent)
        return
    wanted = set()
    for src in sorted(p for p in staged.rglob("*") if not p.is_dir()):
        rel = src.relative_to(staged)
        wanted.add(rel)
        dst = blob / rel
        if dst.parent.exists() and not dst.parent.is_dir():
            dst.parent.unlink()
        dst.parent.mkdir(parents=True, exist_ok=True)
        if dst.is_dir() and not dst.is_symlink():
            shutil.rmtree(dst)
        os.replace(src, dst)
    for extra in sorted(blob.rglob("*"), reverse=True):  # deepest first
        rel = extra.relative_to(blob)
        if extra.is_dir() and not extra.is_symlink():
            if not any(extra.iterdir()) and not any(w.parts[:len(rel.parts)] == rel.parts
                                                    for w in wanted):
                extra.rmdir()
        elif rel not in wanted:
            extra.unlink()
    _fsync_dir(blob)
    shutil.rmtree(staged, ignore_errors=True)


def _fsync_tree(root: Path) -> None:
    for p in root.rglob("*"):
        if p.is_file() and not p.is_symlink():
            fsync(p)
    for d in [root, *(p for p in root.rglob("*") if p.is_dir())]:
        _fsync_dir(d)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return  # not every filesystem lets a directory be opened
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def fetched_in_place(path: Path) -> Fetched:
    """A local file or directory described as if fetched (digests computed, not moved)."""
    if path.is_dir():
        files = hash_tree(path)
        return Fetched(path, tree_digest(files), sum(f.size for f in files), True, files)
    digest, size = sha256_file(path), path.stat().st_size
    return Fetched(path, digest, size, False, (FileDigest(path.name, size, digest),))


def fsync(path: Path) -> None:
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def ref_in_place(path: Path) -> ModelRef:
    """A reference to a model file or directory used where it lies (validated, not copied)."""
    path = path.resolve()
    if path.is_dir():
        size = sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    else:
        read_gguf(path)  # validate before anyone loads it
        size = path.stat().st_size
    name = re.sub(r"\.gguf$", "", path.name, flags=re.I)
    return ModelRef(name=name, path=str(path), sha256=None, source=f"file:{path}",
                    size_bytes=size)
