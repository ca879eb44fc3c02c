"""The store's files under its root: content-addressed blobs, one JSON manifest per name,
staging directories and locks (see :mod:`slmkit.models.store` for the layout and the
contracts). :class:`StoreFiles` is the bookkeeping both halves of the store share: the
lookups and pulls in ``store.py``, the derivations in ``derive.py``."""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from slmkit.core.errors import InvalidModelFileError
from slmkit.core.types import ModelRef
from slmkit.models.blobs import fsync, put_blob
from slmkit.models.gguf_file import read_gguf
from slmkit.models.sources import Fetched, ProgressFn
from slmkit.models.staging import sweep_stale

MANIFEST_SCHEMA = 1
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._:+-]{0,127}$")
_NAME_RULE = "lowercase letters, digits and . _ : + - (at most 128, starting with a letter/digit)"


def validate_name(name: str) -> str:
    """Return ``name`` if it is a safe store name; raise ``ValueError`` saying why not."""
    if not isinstance(name, str) or not NAME_RE.fullmatch(name) or ".." in name:
        raise ValueError(f"invalid model name {name!r}: use {_NAME_RULE}, no '..'")
    return name


@dataclass(frozen=True)
class Registration:
    """What a manifest records besides the fetched files: the name, where the model came
    from (``source``: a spec, or ``made:…`` for a model made here), its kind and licence,
    and for a derived model its lineage (``parent``, ``method``, ``params``)."""

    name: str
    source: Any  # models.sources.Source, or anything with ``spec`` and ``filename``
    pin: str | None = None
    kind: str | None = None
    licence: str | None = None
    parent: str | None = None
    method: str | None = None
    params: dict[str, Any] | None = None

    def label(self) -> str:
        """The source's file name, else its spec (for messages)."""
        return self.source.filename or self.source.spec


def fname(name: str) -> str:
    """A name as a file name (':' is not allowed in Windows file names; '%' is not in names)."""
    return name.replace(":", "%3A")


def gguf_summary(reg: Registration, fetched: Fetched) -> dict[str, Any]:
    """The GGUF summary of a fetched file; ``InvalidModelFileError`` naming the source."""
    try:
        return read_gguf(fetched.path).summary()
    except InvalidModelFileError as err:
        where = f"{reg.label()} (from {reg.source.spec})"
        raise InvalidModelFileError(err.message.replace(str(fetched.path), where),
                                    hint=err.hint) from None


class StoreFiles:
    """``blobs/``, ``manifests/``, ``tmp/`` and ``locks/`` under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.blobs, self.manifests = root / "blobs", root / "manifests"
        self.tmp, self.locks = root / "tmp", root / "locks"

    # --- manifests ---------------------------------------------------------------------------

    def manifest_path(self, name: str) -> Path:
        return self.manifests / f"{fname(name)}.json"

    def read_manifest(self, name: str, *, strict: bool = True) -> dict[str, Any] | None:
        """The manifest of ``name`` (a stored key), None when absent; an unreadable one
        raises ``InvalidModelFileError`` (or gives None when not ``strict``)."""
        return read_json(self.manifest_path(name), strict=strict)

    def all_manifests(self) -> Iterator[dict[str, Any]]:
        """Every readable manifest, in file-name order."""
        for path in sorted(self.manifests.glob("*.json")) if self.manifests.is_dir() else ():
            manifest = read_json(path, strict=False)
            if manifest and "name" in manifest and "blob" in manifest:
                yield manifest

    def write_manifest(self, manifest: dict[str, Any]) -> None:
        """Write atomically (temp file, fsync, ``os.replace``)."""
        self.manifests.mkdir(parents=True, exist_ok=True)
        final = self.manifest_path(manifest["name"])
        tmp = final.with_name(f".{final.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(manifest, f, indent=2, ensure_ascii=False)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, final)

    def ref(self, manifest: dict[str, Any]) -> ModelRef:
        return ModelRef(name=manifest["name"], path=str(self.blobs / manifest["blob"]),
                        sha256=manifest["sha256"], source=manifest.get("source"),
                        size_bytes=int(manifest.get("size", 0)))

    def intact(self, name: str) -> bool:
        """``name`` has a manifest and its blob is in place."""
        manifest = self.read_manifest(name, strict=False)
        return bool(manifest) and (self.blobs / manifest.get("blob", "-")).exists()

    # --- registering -------------------------------------------------------------------------

    def register(self, reg: Registration, fetched: Fetched,
                 summary: dict | None) -> ModelRef:
        """Move the fetched model into its blob and write its manifest last (under the blob
        lock); an older blob of this name no manifest uses any more is deleted."""
        blob = self.blobs / f"{'tree' if fetched.is_dir else 'sha256'}-{fetched.sha256}"
        manifest = {
            "schema": MANIFEST_SCHEMA, "name": reg.name,
            "kind": reg.kind or ("directory" if fetched.is_dir else "llm"),
            "source": reg.source.spec, "sha256": fetched.sha256,
            "digest": "tree" if fetched.is_dir else "file", "blob": blob.name,
            "size": fetched.size, "files": [vars(f) for f in fetched.files],
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "licence": reg.licence or (summary or {}).get("licence"),
            "gguf": summary, "parent": reg.parent, "method": reg.method,
            "params": reg.params,
        }
        if not fetched.is_dir:
            fsync(fetched.path)
        with self.blob_lock():
            old = self.read_manifest(reg.name)
            put_blob(fetched.path, blob)
            self.write_manifest(manifest)
            if old and old.get("blob") != blob.name:
                self.gc_blob(old["blob"])
        return self.ref(manifest)

    def gc_blob(self, blob_name: str) -> int:
        """Delete a blob no manifest references (call under the blob lock); bytes freed."""
        if any(m["blob"] == blob_name for m in self.all_manifests()):
            return 0
        path = self.blobs / blob_name
        if path.is_dir():
            size = sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
            shutil.rmtree(path, ignore_errors=True)
            return size
        if path.exists():
            size = path.stat().st_size
            path.unlink()
            return size
        return 0

    # --- staging, locks ----------------------------------------------------------------------

    def new_staging(self, name: str) -> Path:
        """A private staging dir. Stale ones of this name (an earlier pull of it that was
        killed) are removed first, and so are any other names' whose process is gone.
        Call with the name's lock held."""
        self.tmp.mkdir(parents=True, exist_ok=True)
        self.blobs.mkdir(parents=True, exist_ok=True)
        for stale in self.tmp.glob(f"{fname(name)}~*"):
            shutil.rmtree(stale, ignore_errors=True)
        sweep_stale(self.tmp)
        staging = self.tmp / f"{fname(name)}~{os.getpid()}~{uuid.uuid4().hex[:8]}"
        staging.mkdir()
        return staging

    @contextmanager
    def lock(self, name: str, progress: ProgressFn | None = None) -> Iterator[None]:
        """The per-name lock (threads and processes); ``progress`` hears when it waits."""
        from filelock import FileLock, Timeout

        self.locks.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(self.locks / f"{fname(name)}.lock"))
        try:
            lock.acquire(timeout=0.05)
        except Timeout:
            if progress:
                progress(f"waiting for another pull of {name}", 0, None)
            lock.acquire()
        try:
            yield
        finally:
            lock.release()

    @contextmanager
    def blob_lock(self) -> Iterator[None]:
        """The one lock for blob moves and manifest writes/deletes."""
        from filelock import FileLock

        self.locks.mkdir(parents=True, exist_ok=True)
        with FileLock(str(self.locks / "_blobs.lock")):
            yield


def read_json(path: Path, *, strict: bool = True) -> dict[str, Any] | None:
    """A manifest file's JSON; None when missing (or unreadable, unless ``strict``)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as err:
        if not strict:
            return None
        raise InvalidModelFileError(f"manifest {path} is unreadable: {err}",
                                    hint="remove it with `slm rm NAME` and pull again") from err
