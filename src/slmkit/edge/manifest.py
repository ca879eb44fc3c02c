"""The bundle manifest: what a bundle holds and what it needs, as canonical JSON.

Fields (``schema`` 1)::

    kind         "slmkit-bundle"
    name         the bundle's name (default: the model's store name)
    version      "MAJOR.MINOR.PATCH" (digits only; compared as numbers)
    created      ISO time, UTC
    min_slmkit   the oldest slmkit that can install it
    model        {"name", "path" (inside the bundle), "sha256", "lineage": [...]}
    adapters     {NAME: path inside the bundle}
    serve        `slm serve` options from --config (ctx, threads, parallel, …)
    golden       path of the golden prompts inside the bundle, or null
    fidelity     path of the shipped model's reference answer (edge.fidelity), or null
    acceptance   {"min_pass_rate", "min_tok_s", "max_tokens", optional "max_kld",
                 "max_dppl_pct"}
    hardware     {"ram_bytes", "n_ctx", "threads", "backend"} from the fit check
    rag          {COLLECTION: {"path": "rag/NAME.db", "embedder", "carried": dir or null}}
                 (see edge.rag; absent or empty: no collections)
    files        {path: {"sha256", "size", "included"}}: ``included`` false = the device
                 must already hold that file (a config-only bundle reuses the model)

The signature covers the canonical bytes (sorted keys, no spaces), so a manifest read
back and re-serialized verifies the same.
"""

from __future__ import annotations

import json
import re
from typing import Any

from slmkit.edge.errors import BundleError

SCHEMA = 1
KIND = "slmkit-bundle"
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
VERSION_RE = re.compile(r"^\d+(\.\d+){0,3}$")
# `slm serve` options a bundle's --config may set (TOML key -> its type)
SERVE_OPTIONS = {"ctx": int, "threads": int, "parallel": int, "queue": int,
                 "keep_alive": float, "request_timeout": float}


def canonical(data: Any) -> bytes:
    """The bytes that are signed: JSON with sorted keys and no whitespace."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def parse_version(text: str) -> tuple[int, ...]:
    """``"1.4.0"`` → ``(1, 4, 0)`` (padded to 4 parts, so ``1.4`` == ``1.4.0``)."""
    if not isinstance(text, str) or not VERSION_RE.fullmatch(text):
        raise BundleError(f"version {text!r} is not MAJOR.MINOR.PATCH (digits and dots)",
                          hint="use a version such as 1.4.0")
    parts = [int(p) for p in text.split(".")]
    return tuple(parts + [0] * (4 - len(parts)))


def read_serve_config(path: str) -> dict:
    """The ``[serve]`` table of a TOML file, checked against :data:`SERVE_OPTIONS`."""
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib
    with open(path, "rb") as f:
        data = tomllib.load(f)
    table = data.get("serve", data)
    out = {}
    for key, value in table.items():
        kind = SERVE_OPTIONS.get(key)
        if kind is None:
            raise BundleError(f"{path}: unknown serve option {key!r}",
                              hint=f"known: {', '.join(sorted(SERVE_OPTIONS))}")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise BundleError(f"{path}: {key} must be a number, not {value!r}")
        out[key] = kind(value)
    return out


def check(manifest: dict) -> dict:
    """Check a manifest's shape (after its signature verified); returns it."""
    if manifest.get("kind") != KIND or manifest.get("schema") != SCHEMA:
        raise BundleError(f"not a schema-{SCHEMA} slmkit bundle manifest",
                          hint="rebuild the bundle with this slmkit's `slm bundle`")
    parse_version(manifest.get("version"))
    files = manifest.get("files")
    if not isinstance(files, dict) or not files:
        raise BundleError("the manifest lists no files")
    for path, entry in files.items():
        safe_member(path)
        if not {"sha256", "size", "included"} <= set(entry):
            raise BundleError(f"manifest entry {path!r} lacks sha256/size/included")
    for name, entry in (manifest.get("rag") or {}).items():
        if not isinstance(entry, dict) or entry.get("path") not in files:
            raise BundleError(f"the manifest's collection {name!r} is not among its files")
    model = manifest["model"]["path"]
    if model not in files and not any(p.startswith(model + "/") for p in files):
        raise BundleError("the manifest's model is not among its files")
    return manifest


def safe_member(path: str) -> str:
    """A relative path with no ``..``, absolute part or backslash; ``BundleError`` else."""
    parts = path.split("/")
    if (not path or path.startswith("/") or "\\" in path or any(p in ("", ".", "..")
                                                                for p in parts)):
        raise BundleError(f"unsafe path {path!r} in a bundle", hint="do not install it")
    return path


def check_min_version(manifest: dict) -> None:
    """``BundleError`` when this slmkit is older than the bundle's ``min_slmkit``."""
    from slmkit import __version__

    need = manifest.get("min_slmkit") or "0"
    if parse_version(__version__) < parse_version(need):
        raise BundleError(f"the bundle needs slmkit >= {need}, this is {__version__}",
                          hint="upgrade slmkit on the device first")
