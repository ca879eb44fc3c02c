"""Build, verify and unpack signed bundles (``.slmb``: an uncompressed tar).

Layout: ``manifest.json`` and ``manifest.sig`` first, then the files the manifest lists
as included (``model/…``, ``adapters/NAME/…``, ``config/serve.toml``, ``golden.jsonl``,
``fidelity.json``: the shipped model's reference answer when the acceptance sets
``max_kld`` or ``max_dppl_pct``, see :mod:`slmkit.edge.fidelity`; ``rag/NAME.db`` and
``embedders/EMBEDDER/…``: document collections, see :mod:`slmkit.edge.rag`).
Nothing else may be in the tar: :func:`verify` checks the signature over the manifest,
then every member against the manifest's sha256 and size, and refuses unknown,
duplicate, missing, non-regular or unsafe members. GGUF weights barely compress, so the
tar is not compressed (unpacking stays a plain copy).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from slmkit.edge import keys
from slmkit.edge import manifest as mf
from slmkit.edge.errors import BundleError
from slmkit.edge.rag import MUTABLE_PREFIX
from slmkit.util.files import atomic_output, copy_hashing, sha256_file

DEFAULT_ACCEPTANCE = {"min_pass_rate": 1.0, "min_tok_s": 0.0, "max_tokens": 48}
# parts a bundle may list by digest without shipping (the device reuses its copy)
REUSABLE = ("model", "rag", "embedders")


@dataclass
class BundleSpec:
    """What goes into a bundle (see :func:`build`)."""

    model: str
    version: str
    name: str | None = None
    adapters: dict[str, str] = field(default_factory=dict)
    config: str | None = None
    golden: str | None = None
    acceptance: dict = field(default_factory=dict)
    config_only: bool = False
    n_ctx: int | None = None
    rag: list[str] = field(default_factory=list)  # collections to carry
    rag_export: Callable[[str, Path], str] | None = None  # (name, dest) -> embedder name
    carry_embedder: bool = True  # False: the device's store must hold the embedder
    reuse: set[str] = field(default_factory=set)  # parts of REUSABLE left out

    def left_out(self) -> set[str]:
        """The parts listed by digest only: ``reuse``, or all of them for config-only."""
        bad = set(self.reuse) - set(REUSABLE)
        if bad:
            raise BundleError(f"cannot leave out {', '.join(sorted(bad))}",
                              hint=f"parts: {', '.join(REUSABLE)}")
        return set(REUSABLE) if self.config_only else set(self.reuse)


def build(spec: BundleSpec, private_key: str | Path, out: str | Path, *, store=None) -> dict:
    """Write a signed bundle for ``spec`` to ``out`` (atomically); returns its manifest.
    ``spec.config_only`` lists the model (and collections, embedders) by digest without
    including them, ``spec.reuse`` the parts it names: the device must hold them already
    (from the version it runs)."""
    from slmkit.models.store import Store

    mf.parse_version(spec.version)
    key = keys.load_private(private_key)
    store = store or Store()
    ref = store.resolve(spec.model, pull_missing=False)
    serve = mf.read_serve_config(spec.config) if spec.config else {}
    with tempfile.TemporaryDirectory(prefix="slm-bundle-") as work:
        rag_files, rag_section = _rag(spec, store, Path(work))
        sources = {**_collect(spec, Path(ref.path)), **rag_files,
                   **fidelity_reference(spec, ref.path, Path(work))}
        manifest = _manifest(spec, ref, store, sources, serve)
        manifest["rag"] = rag_section
        data = mf.canonical(manifest)
        sig = json.dumps(keys.sign(key, data)).encode()
        atomic_output(lambda tmp: _write_tar(tmp, data, sig, sources, manifest["files"]), out)
    return manifest


def _collect(spec: BundleSpec, model_path: Path) -> dict[str, Path]:
    """Bundle path → local file, for every file the bundle lists."""
    files: dict[str, Path] = {}
    _add_tree(files, "model", model_path)
    for name, path in spec.adapters.items():
        if not name.replace("-", "").replace("_", "").isalnum():
            raise BundleError(f"adapter name {name!r}: use letters, digits, - and _")
        _add_tree(files, f"adapters/{name}", Path(path))
    if spec.config:
        files["config/serve.toml"] = Path(spec.config)
    if spec.golden:
        from slmkit.edge import golden

        from slmkit.edge import rag

        # refuse a malformed file now, not on the device
        rag.check_golden(golden.load(spec.golden), spec.rag)
        files["golden.jsonl"] = Path(spec.golden)
    return files


def _rag(spec: BundleSpec, store, work: Path) -> tuple[dict[str, Path], dict]:
    """The collections' files and the manifest's ``rag`` section (see edge.rag)."""
    if not spec.rag:
        return {}, {}
    if spec.rag_export is None:
        raise BundleError("bundling a collection needs the RAG exporter",
                          hint="use `slm bundle --rag`, which provides it")
    from slmkit.edge import rag

    return rag.collect(spec.rag, spec.rag_export, carry=spec.carry_embedder, store=store,
                       work=work)


def fidelity_reference(spec: BundleSpec, model_path: str, work: Path) -> dict[str, Path]:
    """``{"fidelity.json": file}`` with the shipped model's reference answer, measured into
    ``work`` when the acceptance asks for a KLD or ΔPPL limit; else ``{}``."""
    if "max_kld" not in spec.acceptance and "max_dppl_pct" not in spec.acceptance:
        return {}
    from slmkit.edge import fidelity

    out = work / "fidelity.json"
    out.write_text(json.dumps(fidelity.reference(model_path)), encoding="utf-8")
    return {"fidelity.json": out}


def _add_tree(files: dict[str, Path], prefix: str, path: Path) -> None:
    if not path.exists():
        raise BundleError(f"{path} does not exist")
    if path.is_file():
        files[f"{prefix}/{path.name}"] = path
        return
    for p in sorted(path.rglob("*")):
        if p.is_file():
            files[f"{prefix}/{path.name}/{p.relative_to(path).as_posix()}"] = p


def _manifest(spec: BundleSpec, ref, store, sources: dict[str, Path], serve: dict) -> dict:
    from slmkit import __version__

    model_key = next(k for k in sources if k.startswith("model/"))
    model_dir = "model/" + model_key.split("/")[1]
    entries = {p: {"sha256": sha256_file(f), "size": f.stat().st_size, "included": True}
               for p, f in sources.items()}
    left_out = spec.left_out()
    for p in entries:
        if p.split("/", 1)[0] in left_out:
            entries[p]["included"] = False
    acceptance = {**DEFAULT_ACCEPTANCE, **spec.acceptance}
    return {
        "schema": mf.SCHEMA, "kind": mf.KIND, "name": spec.name or ref.name,
        "version": spec.version, "min_slmkit": __version__,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "model": {"name": ref.name, "path": model_dir if model_dir != model_key else model_key,
                  "sha256": ref.sha256 or entries[model_key]["sha256"], "lineage": lineage(store, ref.name)},
        "adapters": {n: f"adapters/{n}/{Path(p).name}" for n, p in spec.adapters.items()},
        "serve": serve, "golden": "golden.jsonl" if spec.golden else None,
        "fidelity": "fidelity.json" if "fidelity.json" in sources else None,
        "acceptance": acceptance,
        "hardware": hardware_needs(ref.path, serve, spec.n_ctx),
        "files": entries,
    }


def lineage(store, name: str) -> list[dict]:
    """The model's ancestry from the store: itself, its parent, … (empty for a file that
    is not stored)."""
    out, seen = [], set()
    while name and name not in seen and store.has(name):
        seen.add(name)
        m = store.manifest(name)
        out.append({k: m.get(k) for k in ("name", "sha256", "source", "parent", "method",
                                          "params", "created")})
        name = m.get("parent")
    return out


def hardware_needs(model_path: str, serve: dict, n_ctx: int | None) -> dict:
    """RAM, context and threads the bundle needs, from the fit estimate."""
    from slmkit.models import fit

    ctx = int(n_ctx or serve.get("ctx") or 4096)
    parallel = int(serve.get("parallel") or 1)
    est = fit.estimate(model_path, n_ctx=ctx, n_parallel=parallel)
    return {"ram_bytes": est.total, "n_ctx": est.n_ctx, "threads": int(serve.get("threads") or 0),
            "parallel": est.n_parallel, "backend": est.backend}


def _write_tar(tmp: Path, data: bytes, sig: bytes, sources: dict[str, Path],
               entries: dict) -> None:
    with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as tar:
        for name, blob in ((mf.MANIFEST, data), (mf.SIGNATURE, sig)):
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(blob), 0o644, 0
            tar.addfile(info, io.BytesIO(blob))
        for name, path in sources.items():
            if entries[name]["included"]:
                info = tarfile.TarInfo(name)
                info.size, info.mode, info.mtime = path.stat().st_size, 0o644, 0
                with open(path, "rb") as f:
                    tar.addfile(info, f)


# ---- reading -------------------------------------------------------------------------------

def read_manifest(path: str | Path, public) -> dict:
    """The bundle's manifest after its signature checks out against ``public``."""
    try:
        with tarfile.open(path, "r:") as tar:
            data = _member_bytes(tar, mf.MANIFEST)
            sig = _member_bytes(tar, mf.SIGNATURE)
    except (tarfile.TarError, OSError) as err:
        raise BundleError(f"{path} is not a readable bundle: {err}",
                          hint="download or build it again") from err
    try:
        signature = json.loads(sig)
    except ValueError as err:
        raise BundleError(f"{path}: its signature is not JSON") from err
    keys.verify(public, data, signature, f"bundle {Path(path).name}")
    return mf.check(json.loads(data))


def _member_bytes(tar: tarfile.TarFile, name: str) -> bytes:
    try:
        f = tar.extractfile(name)
    except KeyError:
        f = None
    if f is None:
        raise BundleError(f"{tar.name} has no {name}", hint="build it with `slm bundle`")
    return f.read()


def verify(path: str | Path, public) -> dict:
    """Check everything without installing: signature, then every file's sha256 and size,
    and that the tar holds exactly the included files. Returns the manifest."""
    return unpack(path, public, None)


def unpack(path: str | Path, public, dest: Path | None,
           reuse: Callable[[str, dict], Path | None] | None = None,
           on_member: Callable[[str], None] | None = None) -> dict:
    """Verify the bundle while copying its files under ``dest`` (None: only verify).
    Files the manifest marks not included come from ``reuse(path, entry)`` (a file with
    that digest already on the device) and are hard-linked (or copied) into ``dest``.
    ``on_member(name)`` runs after each file is written and checked."""
    manifest = read_manifest(path, public)
    files = manifest["files"]
    seen: set[str] = set()
    with tarfile.open(path, "r:") as tar:
        for info in tar:
            if info.name in (mf.MANIFEST, mf.SIGNATURE):
                continue
            _check_member(info, files, seen)
            target = dest / info.name if dest is not None else None
            _copy_member(tar, info, target, files[info.name])
            seen.add(info.name)
            if on_member:
                on_member(info.name)
    missing = [p for p, e in files.items() if e["included"] and p not in seen]
    if missing:
        raise BundleError(f"{Path(path).name} lacks {missing[0]} (truncated?)",
                          hint="download it again")
    if dest is not None:
        _place_reused(manifest, dest, reuse)
    return manifest


def _check_member(info: tarfile.TarInfo, files: dict, seen: set[str]) -> None:
    mf.safe_member(info.name)
    entry = files.get(info.name)
    if entry is None or not entry["included"]:
        raise BundleError(f"the bundle holds {info.name!r}, which its manifest does not list",
                          hint="do not install it")
    if info.name in seen or not info.isreg():
        raise BundleError(f"{info.name!r} appears twice or is not a plain file")
    if info.size != entry["size"]:
        raise BundleError(f"{info.name}: {info.size} bytes, the manifest says {entry['size']}")


def _copy_member(tar: tarfile.TarFile, info: tarfile.TarInfo, target: Path | None,
                 entry: dict) -> None:
    h = hashlib.sha256()
    src = tar.extractfile(info)
    if target is None:
        copy_hashing(src, None, h)
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "wb") as out:
            copy_hashing(src, out, h)
            out.flush()
            os.fsync(out.fileno())
    if h.hexdigest() != entry["sha256"]:
        raise BundleError(f"{info.name}: sha256 {h.hexdigest()} does not match the signed "
                          f"manifest ({entry['sha256']}): the bundle was altered or damaged",
                          hint="download it again; do not install it")


def _place_reused(manifest: dict, dest: Path, reuse) -> None:
    for name, entry in manifest["files"].items():
        if entry["included"]:
            continue
        source = reuse(name, entry) if reuse else None
        if source is None:
            raise BundleError(f"the bundle leaves out {name} (sha256 {entry['sha256'][:12]}…) "
                              "and it is not on this device", hint="publish the full bundle")
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if name.startswith(MUTABLE_PREFIX):  # a server on either slot may write to it
            shutil.copy2(source, target)
            continue
        try:
            os.link(source, target)
        except OSError:
            shutil.copy2(source, target)
