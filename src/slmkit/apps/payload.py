"""JSON payloads of the document apps (HTTP): documents given as text or base64 bytes,
validated with messages that name the field."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from slmkit.apps.documents import Document, DocumentError, from_bytes, from_text

MAX_DOCUMENTS = 100


def field(payload: dict[str, Any], name: str, kind: type | tuple, default: Any = None) -> Any:
    """``payload[name]`` checked against ``kind`` (``default`` when absent or null)."""
    value = payload.get(name)
    if value is None:
        return default
    if isinstance(value, bool) and kind in (int, float):
        raise ValueError(f"{name}: must be a number")
    if not isinstance(value, kind):
        want = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
        raise ValueError(f"{name}: must be {want}, got {type(value).__name__}")
    return value


def documents(payload: dict[str, Any]) -> tuple[list[Document], list[dict]]:
    """The documents of ``{"text": ...}`` or ``{"documents": [{"name", "text" |
    "content_base64"}]}``, and an error entry for each one that cannot be read."""
    text = field(payload, "text", str)
    docs = field(payload, "documents", list)
    if (text is None) == (docs is None):
        raise ValueError("give exactly one of text (a string) or documents (a list of "
                         "{name, text | content_base64})")
    if text is not None:
        name = field(payload, "name", str, "text")
        docs = [{"name": name, "text": text}]
    if not 1 <= len(docs) <= MAX_DOCUMENTS:
        raise ValueError(f"documents: 1 to {MAX_DOCUMENTS} entries, got {len(docs)}")
    out: list[Document] = []
    errors: list[dict] = []
    for i, d in enumerate(docs):
        if not isinstance(d, dict) or not isinstance(d.get("name", f"document {i}"), str):
            raise ValueError(f"documents[{i}]: must be an object with a string name")
        name = d.get("name") or f"document {i + 1}"
        has_text, has_b64 = isinstance(d.get("text"), str), isinstance(
            d.get("content_base64"), str)
        if has_text == has_b64:
            raise ValueError(f"documents[{i}]: give exactly one of text or content_base64")
        try:
            if has_text:
                out.append(from_text(name, d["text"]))
            else:
                out += from_bytes(name, _b64(d["content_base64"], i))
        except DocumentError as err:
            errors.append({"document": name, "error": err.reason, "hint": err.hint})
    return out, errors


def _b64(value: str, i: int) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"documents[{i}].content_base64: not valid base64") from None
