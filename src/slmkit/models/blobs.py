"""File-level steps of the store: putting a verified blob in place, describing a local file
or directory as if fetched, flushing to disk."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from slmkit.core.types import ModelRef
from slmkit.models.gguf_file import read_gguf
from slmkit.models.sources import Fetched, FileDigest, hash_tree, sha256_file, tree_digest


def put_blob(staged: Path, blob: Path) -> None:
    """Move a verified file or tree into place. An existing blob of the same digest is
    replaced too: it may be the corrupted copy a forced pull is repairing."""
    if not staged.is_dir():
        os.replace(staged, blob)  # atomic; readers of the old file keep their handle
        return
    old = staged.with_name(staged.name + ".old")
    if blob.exists():
        os.replace(blob, old)
    os.replace(staged, blob)
    shutil.rmtree(old, ignore_errors=True)


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
