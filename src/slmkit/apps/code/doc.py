"""`slm code doc FILE`: missing docstrings added as a patch.

Python functions and classes without a docstring are found with ``ast``; the model writes
each docstring (one short sentence, constrained to a JSON string); the tool inserts it as
the first statement of the body at the body's indentation, wrapped to the line limit. The
patched file must parse and have the same ``ast.dump`` as the original once docstrings are
removed from both, so the patch changes documentation and nothing else.
"""

from __future__ import annotations

import ast
import json
import re
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slmkit.apps.code.patch import unified
from slmkit.apps.llm import Calls, ask
from slmkit.core.engine import Engine
from slmkit.formats.code import decorators as _decorators

LINE_LIMIT = 99
MAX_SOURCE_LINES = 60  # of a definition shown to the model
SYSTEM = ("You write Python docstrings. Given a function or class, write one short "
          "sentence (under 20 words) in the imperative mood saying what it does, e.g. "
          "'Return the sum of a and b.' Do not repeat the signature.")
SCHEMA = {"type": "object", "properties": {"docstring": {
    "type": "string", "minLength": 8, "maxLength": 160}}, "required": ["docstring"]}

Writer = Callable[[str, str], str]  # (kind + name, source) -> one sentence


class DocError(ValueError):
    """A file ``slm code doc`` cannot work on (not Python, or it does not parse)."""


@dataclass
class Missing:
    """A definition without a docstring: where its body starts and how it is indented."""

    name: str
    kind: str  # function | class | method
    line: int  # of the ``def``/``class``
    body_line: int  # first line of the body: the docstring goes above it
    indent: str
    source: str


def missing(text: str, *, private: bool = False) -> tuple[list[Missing], list[dict]]:
    """(definitions without a docstring, skipped ones with the reason). Private names
    (``_x``) are skipped unless ``private``; ``__init__`` counts as private."""
    try:
        tree = ast.parse(text)
    except SyntaxError as err:
        raise DocError(f"the file does not parse (line {err.lineno}: {err.msg}); fix it "
                       "first") from None
    lines = text.splitlines()
    found, skipped = [], []
    for node, kind, qual in _definitions(tree):
        if ast.get_docstring(node, clean=False) is not None:
            continue
        if qual.rsplit(".", 1)[-1].startswith("_") and not private:
            continue
        first = node.body[0]
        start = min([first.lineno, *(d.lineno for d in _decorators(first))])
        if first.lineno == node.lineno:
            skipped.append({"name": qual, "line": node.lineno,
                            "reason": "its body is on the def line"})
            continue
        indent = re.match(r"\s*", lines[start - 1])[0]
        src = "\n".join(lines[node.lineno - 1: node.end_lineno][:MAX_SOURCE_LINES])
        found.append(Missing(qual, kind, node.lineno, start, indent, src))
    return found, skipped


def _definitions(tree: ast.Module):
    def walk(body, prefix, in_class):
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                qual = prefix + node.name
                kind = ("class" if isinstance(node, ast.ClassDef)
                        else "method" if in_class else "function")
                yield node, kind, qual
                if isinstance(node, ast.ClassDef):
                    yield from walk(node.body, qual + ".", True)
    yield from walk(tree.body, "", False)


def clean(sentence: str) -> str:
    """One docstring sentence made safe: one line, no quotes around it, no ``\"\"\"`` or
    backslash, ending with a period."""
    s = " ".join(sentence.split()).strip().strip("\"'`").strip()
    s = s.replace("\\", "/").replace('"""', "'''")
    if s.endswith('"'):
        s = s[:-1] + "'"
    if s and s[0].islower():
        s = s[0].upper() + s[1:]
    if s and s[-1] not in ".!?":
        s += "."
    return s


def docstring_lines(sentence: str, indent: str) -> list[str]:
    """The docstring as lines at ``indent``, wrapped under :data:`LINE_LIMIT`."""
    one = f'{indent}"""{sentence}"""'
    if len(one) <= LINE_LIMIT:
        return [one]
    width = max(20, LINE_LIMIT - len(indent) - 3)
    body = textwrap.wrap(sentence, width)
    return [f'{indent}"""{body[0]}', *(indent + b for b in body[1:]), f'{indent}"""']


def insert(text: str, docs: dict[int, list[str]]) -> str:
    """``text`` with docstring lines inserted above the given 1-based body lines."""
    lines = text.splitlines(keepends=True)
    ending = "\r\n" if lines and lines[0].endswith("\r\n") else "\n"
    for body_line in sorted(docs, reverse=True):
        lines[body_line - 1:body_line - 1] = [ln + ending for ln in docs[body_line]]
    return "".join(lines)


def strip_docstrings(tree: ast.AST) -> str:
    """``ast.dump`` of ``tree`` with every docstring removed (the code without its docs)."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(
                    body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
                node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree, include_attributes=False)


def same_code(old: str, new: str) -> bool:
    """True when ``new`` parses and differs from ``old`` in docstrings only."""
    try:
        return strip_docstrings(ast.parse(old)) == strip_docstrings(ast.parse(new))
    except SyntaxError:
        return False


def model_writer(engine: Engine, calls: Calls | None = None, *,
                 max_tokens: int = 80) -> Writer:
    """A :data:`Writer` that asks ``engine`` for the sentence (JSON-constrained)."""
    def write(what: str, source: str) -> str:
        raw = ask(engine, SYSTEM, f"Write the docstring for {what}:\n\n{source}",
                  max_tokens=max_tokens, calls=calls, json_schema=SCHEMA)
        try:
            return str(json.loads(raw).get("docstring") or "")
        except (ValueError, AttributeError):
            return ""
    return write


def document(path: str, text: str, write: Writer, *, private: bool = False,
             progress: Callable[[dict], None] | None = None) -> dict[str, Any]:
    """Docstrings for ``text``'s undocumented definitions: ``{"patch", "added",
    "skipped", "same_code"}``. Raises :class:`DocError` for a file that does not parse or
    a result whose code would differ (which would be a bug here, not in the file)."""
    todo, skipped = missing(text, private=private)
    docs, added = {}, []
    for i, m in enumerate(todo, 1):
        sentence = clean(write(f"the {m.kind} {m.name}", m.source))
        if len(sentence) < 4:
            skipped.append({"name": m.name, "line": m.line, "reason": "the model wrote none"})
        else:
            docs[m.body_line] = docstring_lines(sentence, m.indent)
            added.append({"name": m.name, "kind": m.kind, "line": m.line,
                          "docstring": sentence})
        if progress:
            progress({"done": i, "total": len(todo), "item": m.name})
    new = insert(text, docs)
    if not same_code(text, new):
        raise DocError(f"inserting docstrings into {path} would change its code; nothing "
                       "was written (please report this file)")
    return {"path": path, "patch": unified(path, text, new) if docs else "",
            "added": added, "skipped": skipped, "same_code": True}


def document_file(path: str, engine: Engine, *, calls: Calls | None = None,
                  private: bool = False, progress: Callable[[dict], None] | None = None
                  ) -> dict[str, Any]:
    """:func:`document` for the file ``path`` with ``engine`` writing the sentences;
    ``ValueError`` when the file cannot be read."""
    from pathlib import Path

    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ValueError(f"cannot read {path}: {err}") from None
    return document(path, text, model_writer(engine, calls), private=private,
                    progress=progress)
