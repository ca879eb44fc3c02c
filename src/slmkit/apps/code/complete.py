"""Complete code at a position in a file: ``complete_at(engine, path, line, col)``.

The text before the cursor is the prefix, the rest of the file the suffix, and a few
neighbouring files of the same language (most recently changed first) are the repository
context the FIM prompt carries.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

from slmkit.apps.code.fim import Infill, build
from slmkit.core.engine import Engine

CONTEXT_FILES = 3
CONTEXT_CHARS = 3000
_POSITION = re.compile(r"^(?P<file>.+?):(?P<line>\d+)(?::(?P<col>\d+))?$")


def parse_position(text: str) -> tuple[str, int, int | None]:
    """``FILE:LINE[:COL]`` → (file, line, col or None); ``ValueError`` otherwise."""
    m = _POSITION.match(text)
    if m is None:
        raise ValueError(f"position {text!r} is not FILE:LINE[:COL], e.g. app.py:42:9")
    return m["file"], int(m["line"]), int(m["col"]) if m["col"] else None


def split_at(text: str, line: int, col: int | None) -> tuple[str, str]:
    """(prefix, suffix) of ``text`` at 1-based ``line`` and ``col`` (None: end of line)."""
    lines = text.splitlines(keepends=True) or [""]
    if not 1 <= line <= len(lines) + 1:
        raise ValueError(f"line {line} is outside the file (1..{len(lines) + 1})")
    head = "".join(lines[:line - 1])
    cur = lines[line - 1] if line <= len(lines) else ""
    body = cur.rstrip("\r\n")
    if col is None:
        col = len(body) + 1
    if not 1 <= col <= len(body) + 1:
        raise ValueError(f"column {col} is outside line {line} (1..{len(body) + 1})")
    return head + body[:col - 1], body[col - 1:] + cur[len(body):] + "".join(lines[line:])


def repo_context(path: Path, files: int = CONTEXT_FILES,
                 chars: int = CONTEXT_CHARS) -> list[dict[str, str]]:
    """Up to ``files`` sibling files with the same extension, newest first, each cut to
    ``chars`` characters, as ``[{"filename", "text"}]``."""
    try:
        siblings = [p for p in path.parent.iterdir()
                    if p.is_file() and p.suffix == path.suffix and p.resolve() != path.resolve()]
    except OSError:
        return []
    siblings.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    out = []
    for p in siblings[:files]:
        try:
            out.append({"filename": p.name,
                        "text": p.read_text(encoding="utf-8", errors="replace")[:chars]})
        except OSError:
            continue
    return out


def complete_at(engine: Engine, path: str | Path, line: int, col: int | None = None, *,
                max_tokens: int = 128, context: bool = True) -> dict[str, Any]:
    """The completion at ``path:line:col`` with timings (``ttft_s``) and token counts."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ValueError(f"cannot read {path}: {err}") from None
    prefix, suffix = split_at(text, line, col)
    req = Infill(prefix=prefix, suffix=suffix, filename=path.name, max_tokens=max_tokens,
                 extra=repo_context(path) if context else ())
    gen, finish = build(engine, req)
    t0 = time.perf_counter()
    ttft, parts, last = None, [], None
    for chunk in engine.generate(gen):
        if ttft is None and chunk.text:
            ttft = time.perf_counter() - t0
        parts.append(chunk.text)
        last = chunk
    raw = "".join(parts)
    usage = last.usage if last is not None else None
    return {"file": str(path), "line": line, "col": col, "completion": finish(raw),
            "raw": raw, "ttft_s": ttft, "seconds": time.perf_counter() - t0,
            "prompt_tokens": usage.prompt_tokens if usage else 0,
            "cached_tokens": usage.cached_tokens if usage else 0,
            "completion_tokens": usage.completion_tokens if usage else 0}
