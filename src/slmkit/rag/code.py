"""A repository as a collection: code files cut on function/class boundaries, each chunk
headed by its symbol so the hybrid retriever finds it by name.

- Files: source code and docs (``.md``, ``.rst``, ``.txt``) under the repository, skipping
  ``.git`` and other hidden folders, virtual environments (any folder with a
  ``pyvenv.cfg``), ``node_modules``, build outputs, files over :data:`MAX_BYTES`, binary
  files, and what the repository's top ``.gitignore`` names (names, globs, ``dir/``).
- Chunks: :func:`slmkit.formats.code.units` (``ast`` for Python, brace depth for C-like
  languages); a unit over the embedder's input limit is cut further by lines. Every chunk's
  text starts with a header line ``function pkg.mod.parse_config in src/pkg/mod.py``, which
  BM25 and the embedder both see; its ``line_start``/``line_end`` are the code's lines in
  the file, so a citation reads ``src/pkg/mod.py:12-30``.
- Incremental like every ingest: unchanged files are skipped, removed ones dropped.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import re
from pathlib import Path

from slmkit.formats.code import units
from slmkit.rag.chunking import TextChunk, chunk_section, chunk_sections
from slmkit.rag.ingest import IngestReport, ingest
from slmkit.rag.loaders import CODE_EXTENSIONS, LoadError, Section, load_bytes
from slmkit.rag.store import Collection

MAX_BYTES = 1_000_000
DOC_EXTENSIONS = {".md", ".rst", ".txt"}
SKIP_DIRS = {"node_modules", "__pycache__", "venv", "env", "build", "dist", "site-packages",
             "target", "vendor", "third_party"}
HEADER = re.compile(r"^(function|method|class|module|block) (\S+) in (\S+)$")


def collection_name(repo: str | Path) -> str:
    """``code-<folder name>-<6 hex of its absolute path>``: one collection per checkout."""
    root = Path(repo).resolve()
    base = re.sub(r"[^A-Za-z0-9_.-]", "-", root.name)[:40].strip(".-") or "repo"
    return f"code-{base}-{hashlib.sha256(str(root).encode()).hexdigest()[:6]}"


def _gitignore(root: Path) -> list[tuple[str, bool]]:
    """(pattern, directory only) for each plain line of ``root/.gitignore``."""
    try:
        lines = (root / ".gitignore").read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return []
    out = []
    for line in lines:
        line = line.strip()
        if line and not line.startswith(("#", "!")):
            out.append((line.rstrip("/").lstrip("/"), line.endswith("/")))
    return out


def _ignored(rel: str, is_dir: bool, patterns: list[tuple[str, bool]]) -> bool:
    name = rel.rsplit("/", 1)[-1]
    for pat, dir_only in patterns:
        if dir_only and not is_dir:
            continue
        target = rel if "/" in pat else name
        if fnmatch.fnmatch(target, pat):
            return True
    return False


def repo_files(root: Path) -> list[Path]:
    """The files of a repository to index, sorted (see the module docstring)."""
    root = root.resolve()
    patterns = _gitignore(root)
    wanted = CODE_EXTENSIONS | DOC_EXTENSIONS
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        rel_dir = here.relative_to(root).as_posix()
        dirnames[:] = sorted(
            d for d in dirnames
            if not d.startswith(".") and d not in SKIP_DIRS
            and not (here / d / "pyvenv.cfg").exists()
            and not _ignored(f"{rel_dir}/{d}".lstrip("./"), True, patterns))
        for name in sorted(filenames):
            f = here / name
            rel = f.relative_to(root).as_posix()
            if name.startswith(".") or f.suffix.lower() not in wanted \
                    or _ignored(rel, False, patterns):
                continue
            try:
                if f.is_file() and not f.is_symlink() and f.stat().st_size <= MAX_BYTES:
                    out.append(f)
            except OSError:
                continue
    return out


def _walker(root: Path):
    def walk(paths, report: IngestReport):
        return repo_files(root), [root.resolve()]
    return walk


def module_name(rel: str) -> str:
    """``src/pkg/mod.py`` → ``pkg.mod`` (a leading ``src/`` and ``__init__`` dropped)."""
    parts = Path(rel).with_suffix("").parts
    if parts and parts[0] in ("src", "lib"):
        parts = parts[1:]
    if parts and parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def header(rel: str, kind: str, symbol: str) -> str:
    """The first line of a code chunk: ``method pkg.mod.Store.pull in src/pkg/mod.py``."""
    mod = module_name(rel)
    if symbol == "<module>":
        qual = mod or rel
    elif symbol.startswith(("<", "lines ")):
        qual = symbol
    else:
        qual = ".".join(p for p in (mod, symbol) if p)
    return f"{kind} {qual.replace(' ', '_')} in {rel}"


def parse_header(text: str) -> tuple[str, str, str] | None:
    """(kind, qualified symbol, path) from a chunk's first line, or None."""
    m = HEADER.match(text.split("\n", 1)[0])
    return (m[1], m[2], m[3]) if m else None


def code_chunks(rel: str, text: str, tokenizer) -> list[TextChunk]:
    """The chunks of one source file (header line + code, with the code's lines)."""
    limit = max(16, tokenizer.max_tokens - tokenizer.n_special)
    starts = [0]
    for line in text.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))
    out = []
    for u in units(rel, text):
        head = header(rel, u.kind, u.symbol)
        room = max(8, limit - tokenizer.count_tokens(head) - 2)
        pieces = chunk_section(Section(u.text, first_line=u.start), tokenizer, size=room,
                               overlap=8)
        base = starts[u.start - 1]
        for p in pieces:
            lead = u.text.rfind("\n", 0, p.char_start) + 1  # keep the first line's indent
            code = u.text[lead:p.char_end] if not u.text[lead:p.char_start].strip() else p.text
            body = f"{head}\n{code}"
            n = tokenizer.count_tokens(body)
            if n > tokenizer.max_tokens:  # a header that does not fit: the code alone
                body, n = p.text, p.n_tokens
            out.append(TextChunk(body, base + p.char_start, base + p.char_end, n, None,
                                 p.line_start, p.line_end))
    return out


def _chunker(root: Path):
    def chunk(path: str, data: bytes, embedder) -> list[TextChunk]:
        if b"\0" in data[:8192]:
            raise LoadError(path, "binary file")
        rel = Path(path).resolve().relative_to(root).as_posix()
        if Path(path).suffix.lower() in DOC_EXTENSIONS:
            return chunk_sections(load_bytes(path, data), embedder)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise LoadError(path, "not UTF-8 text") from None
        return code_chunks(rel, text, embedder)
    return chunk


def ingest_repo(collection: Collection, repo: str | Path, embedder, *,
                progress=None) -> IngestReport:
    """Index (or refresh) ``repo`` in ``collection``; see the module docstring."""
    root = Path(repo).resolve()
    if not root.is_dir():
        raise ValueError(f"--repo {repo}: not a folder")
    return ingest(collection, [root], embedder, chunker=_chunker(root), walker=_walker(root),
                  progress=progress)
