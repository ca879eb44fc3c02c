"""Document collections in bundles: ``slm bundle MODEL --rag COLLECTION``.

A bundle carries each collection as one SQLite file, ``rag/NAME.db`` (a compacted,
consistent copy; the ANN index is not shipped: the device rebuilds it from the stored
vectors on first use), and by default the embedder the collection was built with, as
``embedders/EMBEDDER/…`` (the files of the store's copy). The manifest's ``rag`` section::

    {"NAME": {"path": "rag/NAME.db", "embedder": "EMBEDDER",
              "carried": "embedders/EMBEDDER" or null}}

``carried`` null (``--rag-embedder name``): the device's own model store must hold the
embedder; the agent refuses the update before installing when it does not. On the device
the probation server (and a hosted one) runs ``slm serve --rag-home SLOT --rag NAME``: the
collection answers as the model ``rag:NAME`` and on ``/v1/rag``. Golden prompts with
``"rag": "NAME"`` ask ``rag:NAME``.

The edge package never imports ``rag``: the collection is exported by a function the CLI
hands in (``export(name, dest) -> embedder name``, :func:`slmkit.rag.store.snapshot`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from slmkit.edge.errors import BundleError, UpdateRefused

RAG_DIR = "rag"
EMBEDDERS_DIR = "embedders"
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
# files an installed slot's server may write beside (or into, through /v1/rag ingest):
# reused by copying, never by a hard link shared with the committed slot
MUTABLE_PREFIX = RAG_DIR + "/"


def _check_name(kind: str, name: str) -> str:
    if not isinstance(name, str) or not NAME_RE.fullmatch(name) or ".." in name:
        raise BundleError(f"{kind} name {name!r} cannot be a bundle path",
                          hint="use letters, digits, '_', '-' and '.'")
    return name


def collect(names: list[str], export: Callable[[str, Path], str], *, carry: bool, store,
            work: Path) -> tuple[dict[str, Path], dict]:
    """Export each collection into ``work`` and find its embedder's files in ``store``:
    (bundle path → local file, the manifest's ``rag`` section)."""
    files: dict[str, Path] = {}
    section: dict[str, dict] = {}
    for name in names:
        db = work / RAG_DIR / f"{_check_name('collection', name)}.db"
        db.parent.mkdir(parents=True, exist_ok=True)
        embedder = _check_name("embedder", export(name, db))
        files[f"{RAG_DIR}/{name}.db"] = db
        carried = f"{EMBEDDERS_DIR}/{embedder}" if carry else None
        if carried and not any(p.startswith(carried + "/") for p in files):
            files.update(_embedder_files(store, embedder, carried))
        section[name] = {"path": f"{RAG_DIR}/{name}.db", "embedder": embedder,
                         "carried": carried}
    return files, section


def _embedder_files(store, embedder: str, prefix: str) -> dict[str, Path]:
    from slmkit.core.errors import ModelNotFoundError

    try:
        root = Path(store.resolve(embedder, pull_missing=False).path)
    except ModelNotFoundError as err:
        raise BundleError(f"the collection's embedder {embedder} is not in the model store",
                          hint=f"`slm pull {embedder}` (or query the collection once, which "
                               "makes it), or bundle with --rag-embedder name") from err
    if root.is_file():
        return {f"{prefix}/{root.name}": root}
    return {f"{prefix}/{p.relative_to(root).as_posix()}": p
            for p in sorted(root.rglob("*")) if p.is_file()}


def check_golden(prompts: list[dict], names: list[str]) -> None:
    """Each golden prompt that asks a collection names one the bundle carries."""
    for item in prompts:
        if "rag" in item and item["rag"] not in names:
            raise BundleError(f"golden prompt {item['prompt'][:40]!r} asks collection "
                              f"{item['rag']!r}, which the bundle does not carry",
                              hint="add it with --rag " + str(item["rag"]))


def check_device(manifest: dict, store=None) -> None:
    """``UpdateRefused`` when a collection's embedder is neither carried by the bundle nor
    in this device's model store."""
    section = manifest.get("rag") or {}
    missing = sorted({e["embedder"] for e in section.values() if not e.get("carried")})
    if not missing:
        return
    from slmkit.models.store import Store

    store = store or Store()
    for name in missing:
        if not store.has(name):
            colls = ", ".join(n for n, e in section.items() if e["embedder"] == name)
            raise UpdateRefused(f"{manifest['version']}: collection {colls} needs the embedder "
                                f"{name}, which this device's model store lacks",
                                hint=f"`slm pull {name}` on the device, or publish a bundle "
                                     "that carries it (slm bundle --rag without "
                                     "--rag-embedder name)")


def serve_args(slot: Path, manifest: dict) -> list[str]:
    """The ``slm serve`` options that serve the slot's collections."""
    section = manifest.get("rag") or {}
    if not section:
        return []
    args = ["--rag-home", str(slot)]
    for name in sorted(section):
        args += ["--rag", name]
    return args
