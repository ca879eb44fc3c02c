"""File → text sections, for rag and the apps. One loader per type; each returns
:class:`Section`\\ s that keep where the text came from (PDF page, first line), or raises
:class:`LoadError` with the reason the file cannot be read.

Types: .txt .md .html .pdf .docx .json .jsonl .csv and source code (``CODE_EXTENSIONS``).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

TEXT_EXTENSIONS = {".txt": "text", ".text": "text", ".rst": "text", ".log": "text",
                   ".md": "markdown", ".markdown": "markdown"}
CODE_EXTENSIONS = {".py", ".js", ".ts", ".tsx", ".jsx", ".java", ".kt", ".go", ".rs", ".c",
                   ".h", ".cc", ".cpp", ".hpp", ".cs", ".rb", ".php", ".swift", ".scala",
                   ".sh", ".sql", ".yaml", ".yml", ".toml", ".ini", ".cfg", ".xml", ".css",
                   ".lua", ".r", ".m", ".pl"}
MAX_FILE_BYTES = 64 * 1024 * 1024


class LoadError(Exception):
    """A file that cannot be read as its type; ``reason`` says why."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path, self.reason = path, reason


@dataclass
class Section:
    """Text from one place in a file: a PDF page (``page``), or lines from ``first_line``."""

    text: str
    page: int | None = None
    first_line: int = 1


def doc_type(path: str | Path) -> str | None:
    """The loader type for a file name, or None when unsupported."""
    ext = Path(path).suffix.lower()
    if ext in TEXT_EXTENSIONS:
        return TEXT_EXTENSIONS[ext]
    if ext in CODE_EXTENSIONS:
        return "code"
    return {".html": "html", ".htm": "html", ".pdf": "pdf", ".docx": "docx", ".json": "json",
            ".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".tsv": "csv"}.get(ext)


def load_bytes(name: str, data: bytes, kind: str | None = None) -> list[Section]:
    """Sections of a file's bytes. ``kind`` defaults to the type of ``name``."""
    kind = kind or doc_type(name)
    if kind is None:
        raise LoadError(name, f"unsupported file type {Path(name).suffix or '(none)'}")
    try:
        sections = LOADERS[kind](data)
    except LoadError as err:
        raise LoadError(name, err.reason) from None
    except Exception as err:
        raise LoadError(name, f"cannot read as {kind}: {type(err).__name__}: {err}") from err
    return [s for s in sections if s.text.strip()]


def load_file(path: str | Path) -> list[Section]:
    p = Path(path)
    try:
        size = p.stat().st_size
        if size > MAX_FILE_BYTES:
            raise LoadError(str(p), f"file is {size} bytes; the limit is {MAX_FILE_BYTES}")
        data = p.read_bytes()
    except OSError as err:
        raise LoadError(str(p), err.strerror or str(err)) from err
    return load_bytes(str(p), data)


def _decode(data: bytes) -> str:
    if b"\x00" in data[:8192]:
        raise LoadError("", "binary data (NUL bytes) in a text file")
    for enc in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(enc).replace("\r\n", "\n").replace("\r", "\n")
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def _text(data: bytes) -> list[Section]:
    return [Section(_decode(data))]


def _html(data: bytes) -> list[Section]:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(_decode(data), "html.parser")
    for tag in soup(["script", "style", "noscript", "template"]):
        tag.decompose()
    lines = [line.strip() for line in soup.get_text("\n").splitlines()]
    return [Section("\n".join(line for line in lines if line))]


def _pdf(data: bytes) -> list[Section]:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    if reader.is_encrypted:
        raise LoadError("", "the PDF is encrypted")
    return [Section(page.extract_text() or "", page=i + 1) for i, page in enumerate(reader.pages)]


def _docx(data: bytes) -> list[Section]:
    import docx

    document = docx.Document(io.BytesIO(data))
    parts = [p.text for p in document.paragraphs if p.text.strip()]
    for table in document.tables:
        for row in table.rows:
            parts.append(" | ".join(cell.text.strip() for cell in row.cells))
    return [Section("\n".join(parts))]


def _flatten(value, prefix: str = "") -> list[str]:
    if isinstance(value, dict):
        out = []
        for k, v in value.items():
            out += _flatten(v, f"{prefix}.{k}" if prefix else str(k))
        return out
    if isinstance(value, list):
        if all(not isinstance(v, (dict, list)) for v in value):
            return [f"{prefix}: {', '.join(str(v) for v in value)}"]
        out = []
        for i, v in enumerate(value):
            out += _flatten(v, f"{prefix}[{i}]")
        return out
    return [f"{prefix}: {value}" if prefix else str(value)]


def _json(data: bytes) -> list[Section]:
    return [Section("\n".join(_flatten(json.loads(_decode(data)))))]


def _jsonl(data: bytes) -> list[Section]:
    lines = []
    for n, line in enumerate(_decode(data).splitlines(), 1):
        if not line.strip():
            lines.append("")
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise LoadError("", f"line {n} is not JSON: {err}") from err
        lines.append("; ".join(_flatten(record)))
    return [Section("\n".join(lines))]


def _csv(data: bytes) -> list[Section]:
    text = _decode(data)
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    rows = list(csv.reader(io.StringIO(text), dialect))
    if not rows:
        return []
    header, lines = rows[0], [" | ".join(rows[0])]
    for row in rows[1:]:
        lines.append("; ".join(f"{h}: {v}" for h, v in zip(header, row, strict=False) if v))
    return [Section("\n".join(lines))]


LOADERS: dict[str, Callable[[bytes], list[Section]]] = {
    "text": _text, "markdown": _text, "code": _text, "html": _html, "pdf": _pdf,
    "docx": _docx, "json": _json, "jsonl": _jsonl, "csv": _csv,
}
