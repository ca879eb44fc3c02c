"""Documents as the apps read them: files, folders, stdin or text → :class:`Document`\\ s
whose every quote can be located (part, page, line).

Formats come from :mod:`slmkit.formats` (text, Markdown, HTML, PDF, DOCX, …, and e-mail:
an ``.eml`` or ``.mbox`` file gives one document per thread, messages cleaned of quoted
replies and signatures, attachments listed). A file that cannot be used raises
:class:`DocumentError` naming it and saying why (unreadable, encrypted, empty, unsupported);
:func:`iter_documents` reports such files and goes on with the rest of a folder.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from slmkit.core.errors import SlmError
from slmkit.formats import loaders, mail

MAIL_TYPES = {".eml": False, ".mbox": True, ".mbx": True}
PART_GAP = "\n\n"


class DocumentError(SlmError):
    """A file the apps cannot use; ``path`` and ``reason`` say which and why."""

    code = "unreadable_document"

    def __init__(self, path: str, reason: str, *, hint: str | None = None) -> None:
        super().__init__(f"{path}: {reason}", hint=hint)
        self.path, self.reason = path, reason


@dataclass
class Part:
    """A piece of a document with its place: a PDF page, an e-mail message, or lines from
    ``first_line`` of a text file."""

    text: str
    label: str = ""
    page: int | None = None
    first_line: int = 1


@dataclass
class Document:
    """A document's parts, joined by blank lines into :attr:`text`."""

    name: str
    kind: str
    parts: list[Part]
    attachments: list[dict] = field(default_factory=list)
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.text = PART_GAP.join(p.text for p in self.parts)
        self._starts, pos = [], 0
        for p in self.parts:
            self._starts.append(pos)
            pos += len(p.text) + len(PART_GAP)

    def location(self, start: int, end: int | None = None) -> dict:
        """Where the character offset ``start`` (into :attr:`text`) lies."""
        i = max(0, bisect.bisect_right(self._starts, start) - 1)
        part, offset = self.parts[i], start - self._starts[i]
        loc: dict = {"line": part.first_line + part.text.count("\n", 0, max(0, offset))}
        if part.page is not None:
            loc["page"] = part.page
        if part.label:
            loc["part"] = part.label
        loc["start"], loc["end"] = start, end if end is not None else start
        return loc

    def find(self, quote: str) -> dict | None:
        """The location of ``quote`` in the document — verbatim, or equal up to whitespace
        and case — or ``None`` when the document does not contain it."""
        span = find_span(self.text, quote)
        return None if span is None else self.location(*span)


def find_span(text: str, quote: str) -> tuple[int, int] | None:
    """``(start, end)`` of ``quote`` in ``text``: exact first, then ignoring differences in
    whitespace and case. Quotes shorter than 2 visible characters are never found."""
    quote = quote.strip()
    if len(re.sub(r"\s", "", quote)) < 2:
        return None
    i = text.find(quote)
    if i >= 0:
        return i, i + len(quote)
    words = quote.split()
    pattern = r"\s+".join(re.escape(w) for w in words)
    m = re.search(pattern, text, re.I)
    return (m.start(), m.end()) if m else None


def from_text(name: str, text: str, kind: str = "text") -> Document:
    """A document from a string (stdin, an HTTP payload)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise DocumentError(name, "the document is empty")
    return Document(name, kind, [Part(text)])


def _mail_documents(name: str, data: bytes, mbox: bool) -> list[Document]:
    docs = []
    for n, thread in enumerate(mail.load_mail(data, mbox=mbox), 1):
        parts = []
        for i, m in enumerate(thread.messages, 1):
            body = m.header_line() + "\n" + (m.body or "(no text)")
            parts.append(Part(body, label=f"message {i}"))
        label = f"{name}#thread{n}" if mbox else name
        docs.append(Document(label, "email", parts, meta={
            "subject": thread.subject, "messages": len(thread.messages),
            "removed": {k: sum(m.removed.get(k, 0) for m in thread.messages)
                        for k in ("quoted", "signature")}},
            attachments=[{"name": a.name, "type": a.content_type, "bytes": a.size,
                          "message": i}
                         for i, m in enumerate(thread.messages, 1) for a in m.attachments]))
    if not docs:
        raise DocumentError(name, "no messages found in the mail file")
    return docs


def from_bytes(name: str, data: bytes) -> list[Document]:
    """The documents in a file's bytes (several for an mbox with several threads)."""
    ext = Path(name).suffix.lower()
    if not data.strip():
        raise DocumentError(name, "the file is empty")
    if ext in MAIL_TYPES:
        try:
            return _mail_documents(name, data, MAIL_TYPES[ext])
        except DocumentError:
            raise
        except Exception as err:
            raise DocumentError(name, f"cannot read as e-mail: {err}") from err
    try:
        sections = loaders.load_bytes(name, data)
    except loaders.LoadError as err:
        hint = ("decrypt it first (e.g. `qpdf --decrypt in.pdf out.pdf`)"
                if "encrypted" in err.reason else None)
        raise DocumentError(name, err.reason, hint=hint) from None
    if not sections:
        hint = "a scanned PDF has no text layer: run OCR first" if ext == ".pdf" else None
        raise DocumentError(name, "no text in the file", hint=hint)
    kind = loaders.doc_type(name) or "text"
    return [Document(name, kind, [Part(s.text, f"page {s.page}" if s.page else "", s.page,
                                       s.first_line) for s in sections])]


def supported(path: Path) -> bool:
    return path.suffix.lower() in MAIL_TYPES or loaders.doc_type(path) is not None


def read_path(path: str | Path) -> list[Document]:
    """The documents of one file."""
    p = Path(path)
    try:
        size = p.stat().st_size
        if size > loaders.MAX_FILE_BYTES:
            raise DocumentError(str(p), f"file is {size} bytes; the limit is "
                                        f"{loaders.MAX_FILE_BYTES}")
        data = p.read_bytes()
    except OSError as err:
        raise DocumentError(str(p), err.strerror or str(err)) from err
    return from_bytes(str(p), data)


def expand(paths: list[str]) -> list[Path]:
    """Files named, and the supported files under folders named (sorted, hidden skipped)."""
    out: list[Path] = []
    for name in paths:
        p = Path(name)
        if p.is_dir():
            out += sorted(f for f in p.rglob("*") if f.is_file() and supported(f)
                          and not any(x.startswith(".") for x in f.relative_to(p).parts))
        else:
            out.append(p)
    return out


def read_stdin() -> list[Document] | DocumentError:
    """Standard input as one document named ``stdin``, or the DocumentError saying why not
    (as :func:`iter_documents` gives them)."""
    import sys

    try:
        return [from_text("stdin", sys.stdin.read())]
    except DocumentError as err:
        return err


def iter_documents(paths: list[str]) -> Iterator[tuple[Path, list[Document] | DocumentError]]:
    """``(file, documents)`` for each file, or ``(file, DocumentError)`` for one that cannot
    be used — the caller reports it and the rest are still read."""
    for f in expand(paths):
        try:
            yield f, read_path(f)
        except DocumentError as err:
            yield f, err


def run_each(items: list[tuple[Path | str, list[Document] | DocumentError]], fn, *,
             on_result=None, on_error=None, progress=None) -> tuple[list, list[dict]]:
    """``fn(document)`` for every document of ``items`` (as :func:`iter_documents` yields
    them): the results, and ``{"document", "error", "hint"}`` for each file that could not
    be read. ``on_result``/``on_error`` see each as it comes; ``progress(done, total)``."""
    results, errors = [], []
    for i, (path, docs) in enumerate(items, 1):
        if isinstance(docs, DocumentError):
            errors.append({"document": str(path), "error": docs.reason, "hint": docs.hint})
            if on_error:
                on_error(docs)
        else:
            for doc in docs:
                results.append(fn(doc))
                if on_result:
                    on_result(results[-1])
        if progress:
            progress(i, len(items))
    return results, errors
