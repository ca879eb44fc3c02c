"""Models made on this machine, registered in the store with their lineage: a conversion,
a quantization, a pruned, distilled or merged model (:meth:`Store.derive`, :meth:`Store.add`,
:meth:`Store.scratch` call these)."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from slmkit.core.errors import SourceError
from slmkit.core.types import ModelRef
from slmkit.models.blobs import fetched_in_place
from slmkit.models.staging import scratch_prefix, sweep_stale
from slmkit.models.store_files import Registration, gguf_summary, validate_name


class ModelExistsError(ValueError):
    """A derived model would replace a stored one and overwriting was not asked for (a
    usage error: the CLI exits with status 2, as for any bad argument)."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"{name!r} is already in the store; pass --force to replace it or "
                         "--name to choose another name")


@dataclass
class Derivation:
    """A model being made by :meth:`Store.derive`.

    Write the result under ``dir`` (a fresh directory inside the store). When the ``with``
    block ends normally, what ``dir`` holds is registered: its single entry (a GGUF file or
    a model directory) when there is exactly one, else ``dir`` itself as a directory model;
    ``ref`` is then the stored model. ``method`` and ``params`` may be refined inside the
    block (e.g. once a calibration digest is known); ``params`` must be JSON-serializable.
    """

    name: str
    dir: Path
    parent: str | None
    method: str
    params: dict[str, Any] = field(default_factory=dict)
    kind: str | None = None
    ref: ModelRef | None = None

    def result(self) -> Path:
        """The path that will be registered (see the class docstring)."""
        entries = list(self.dir.iterdir())
        if not entries:
            raise SourceError(f"deriving {self.name!r} wrote nothing into {self.dir}",
                              hint="write the model file or directory under Derivation.dir")
        return entries[0] if len(entries) == 1 else self.dir


@dataclass(frozen=True)
class Made:
    """The source of a model made on this machine (``made:METHOD from PARENT``)."""

    spec: str
    filename: str = ""


@contextmanager
def derive(store, name: str, *, parent: str | None, method: str,
           params: dict[str, Any] | None = None, kind: str | None = None,
           overwrite: bool = False) -> Iterator[Derivation]:
    """:meth:`Store.derive` (see there)."""
    validate_name(name)
    check_params(name, params)
    with store.files.lock(name):
        if store.has(name) and not overwrite:
            raise ModelExistsError(name)
        d = Derivation(name, store.files.new_staging(name), parent, method,
                       dict(params or {}), kind)
        try:
            yield d
            check_params(name, d.params)
            d.ref = register_made(store, d.result(), name, parent=d.parent, method=d.method,
                                  params=d.params or None, kind=d.kind)
        finally:
            shutil.rmtree(d.dir, ignore_errors=True)


def add(store, path: str | Path, name: str, *, parent: str | None = None,
        method: str | None = None, kind: str | None = None,
        params: dict[str, Any] | None = None) -> ModelRef:
    """:meth:`Store.add` (see there)."""
    path = Path(path)
    validate_name(name)
    check_params(name, params)
    if not path.exists():
        raise SourceError(f"no such file or directory: {path}")
    with store.files.lock(name):
        staging = store.files.new_staging(name)
        try:
            if os.stat(path).st_dev != os.stat(staging).st_dev:
                copy = staging / path.name
                (shutil.copytree if path.is_dir() else shutil.copy2)(path, copy)
                path = copy
            return register_made(store, path, name, parent=parent, method=method,
                                 params=params, kind=kind)
        finally:
            shutil.rmtree(staging, ignore_errors=True)


def register_made(store, path: Path, name: str, *, parent: str | None, method: str | None,
                  params: dict[str, Any] | None, kind: str | None) -> ModelRef:
    """Hash, validate and register a model made here (call with the name's lock held);
    it inherits its parent's licence."""
    licence = store.manifest(parent).get("licence") if parent and store.has(parent) else None
    origin = Made(f"made:{method or 'local'}" + (f" from {parent}" if parent else ""))
    reg = Registration(name, origin, None, kind, licence, parent, method, params)
    fetched = fetched_in_place(path)
    summary = None if fetched.is_dir else gguf_summary(reg, fetched)
    return store.files.register(reg, fetched, summary)


@contextmanager
def scratch(tmp: Path, prefix: str = "work-") -> Iterator[Path]:
    """:meth:`Store.scratch` (see there)."""
    tmp.mkdir(parents=True, exist_ok=True)
    sweep_stale(tmp)
    work = Path(tempfile.mkdtemp(prefix=scratch_prefix(prefix), dir=tmp))
    try:
        yield work
    finally:
        shutil.rmtree(work, ignore_errors=True)


def check_params(name: str, params: dict[str, Any] | None) -> None:
    """``ValueError`` unless ``params`` can be written into a manifest (JSON)."""
    try:
        json.dumps(params)
    except (TypeError, ValueError) as err:
        raise ValueError(f"the params of {name!r} must be JSON-serializable: {err}") from None
