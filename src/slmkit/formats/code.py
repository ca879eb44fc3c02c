"""Source files cut on function and class boundaries, each piece with its symbol.

Python is cut with ``ast``: every top-level function is a unit, a class is its header
(the lines up to its first method: docstring, attributes) plus one unit per method named
``Class.method``, and the statements between definitions are ``<module>`` units. Brace
languages (C, Java, JS/TS, Go, Rust, …) are cut where the brace depth returns to zero
after a line that opens a block; the symbol is the name before the first ``(`` or ``{``.
Anything else, or a file that does not parse, is cut in windows of :data:`WINDOW` lines.
Standard library only.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

WINDOW = 60
BRACE_LANGS = {".c", ".h", ".cc", ".cpp", ".hpp", ".cs", ".java", ".kt", ".js", ".jsx",
               ".ts", ".tsx", ".go", ".rs", ".swift", ".scala", ".php", ".css"}
_KEYWORDS = {"if", "for", "while", "switch", "return", "else", "catch", "do", "try", "new",
             "fn", "func", "function", "def", "class", "struct", "impl", "interface", "enum",
             "public", "private", "protected", "static", "const", "let", "var", "async",
             "export", "default", "type", "trait", "pub", "final", "abstract", "override",
             "void", "int", "char", "unsigned", "inline", "extern", "object", "mod"}
_NAME = re.compile(r"[A-Za-z_$][\w$]*")


@dataclass(frozen=True)
class CodeUnit:
    """Lines ``start``..``end`` (1-based, inclusive) of a file: a ``function``, ``class``,
    ``method``, ``module`` (top-level statements) or ``block`` (a window)."""

    symbol: str
    kind: str
    start: int
    end: int
    text: str


def units(path: str | Path, text: str) -> list[CodeUnit]:
    """The units of ``text`` (the file ``path``), in file order, covering every non-blank
    line once."""
    ext = Path(path).suffix.lower()
    lines = text.splitlines()
    if ext in (".py", ".pyi"):
        try:
            spans = _python_spans(ast.parse(text), len(lines))
        except (SyntaxError, ValueError):
            spans = _windows(len(lines))
    elif ext in BRACE_LANGS:
        spans = _brace_spans(lines)
    else:
        spans = _windows(len(lines))
    out = []
    for symbol, kind, a, b in spans:
        while a <= b and not lines[a - 1].strip():
            a += 1
        while b >= a and not lines[b - 1].strip():
            b -= 1
        if a <= b:
            out.append(CodeUnit(symbol, kind, a, b, "\n".join(lines[a - 1:b])))
    return out


def _first_line(node) -> int:
    return min([node.lineno, *(d.lineno for d in decorators(node))])


def _python_spans(tree: ast.Module, n_lines: int) -> list[tuple[str, str, int, int]]:
    spans: list[tuple[str, str, int, int]] = []
    loose: list[int] = []  # start of a run of module-level statements

    def flush(end: int) -> None:
        if loose:
            spans.append(("<module>", "module", loose[0], end))
            loose.clear()

    for node in tree.body:
        start = _first_line(node)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            flush(start - 1)
            spans.append((node.name, "function", start, node.end_lineno))
        elif isinstance(node, ast.ClassDef):
            flush(start - 1)
            spans.extend(_class_spans(node, start))
        elif not loose:
            loose.append(start)
    flush(n_lines)
    return spans


def _class_spans(node: ast.ClassDef, start: int) -> list[tuple[str, str, int, int]]:
    methods = [m for m in node.body if isinstance(m, (ast.FunctionDef, ast.AsyncFunctionDef))]
    if not methods:
        return [(node.name, "class", start, node.end_lineno)]
    out = [(node.name, "class", start, _first_line(methods[0]) - 1)]
    for i, m in enumerate(methods):
        nxt = methods[i + 1] if i + 1 < len(methods) else None
        # statements between methods belong to the method before them
        end = _first_line(nxt) - 1 if nxt is not None else node.end_lineno
        out.append((f"{node.name}.{m.name}", "method", _first_line(m), end))
    return out


def _windows(n: int, size: int = WINDOW) -> list[tuple[str, str, int, int]]:
    return [(f"lines {a}-{min(a + size - 1, n)}", "block", a, min(a + size - 1, n))
            for a in range(1, n + 1, size)]


def _strip_strings(line: str) -> str:
    line = re.sub(r'"(\\.|[^"\\])*"|\'(\\.|[^\'\\])*\'|`[^`]*`', '""', line)
    return re.split(r"//|#(?!include)", line, maxsplit=1)[0]


def _brace_spans(lines: list[str]) -> list[tuple[str, str, int, int]]:
    """Top-level blocks by brace depth (comments and strings on a line ignored)."""
    spans, depth, start, head = [], 0, None, ""
    loose = None
    for i, raw in enumerate(lines, 1):
        line = _strip_strings(raw)
        opens, closes = line.count("{"), line.count("}")
        if depth == 0 and opens > closes and start is None:
            if loose is not None:
                spans.append(("<module>", "module", loose, i - 1))
                loose = None
            start, head = i, raw
        elif depth == 0 and start is None and raw.strip() and loose is None:
            loose = i
        depth = max(0, depth + opens - closes)
        if depth == 0 and start is not None:
            name, kind = _brace_symbol(head)
            spans.append((name, kind, start, i))
            start = None
    if start is not None:
        spans.append((_brace_symbol(head)[0], "block", start, len(lines)))
    if loose is not None:
        spans.append(("<module>", "module", loose, len(lines)))
    return [s for big in spans for s in (_split_big(big))]


def _split_big(span: tuple[str, str, int, int]) -> list[tuple[str, str, int, int]]:
    name, kind, a, b = span
    if kind != "module" or b - a < WINDOW:
        return [span]
    return [(name, kind, x, min(x + WINDOW - 1, b)) for x in range(a, b + 1, WINDOW)]


def _brace_symbol(head: str) -> tuple[str, str]:
    """(name, kind) of a block from its first line: ``class Foo {`` → (Foo, class)."""
    text = head.split("(", 1)[0] if "(" in head else head.split("{", 1)[0]
    words = [w for w in _NAME.findall(text) if w not in _KEYWORDS]
    kind = "class" if re.search(r"\b(class|struct|interface|impl|trait|enum)\b", head) \
        else "function"
    return (words[-1] if words else "<block>"), kind


def decorators(node: ast.AST) -> list[ast.expr]:
    """The decorators of a function or class definition (none for any other node)."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return node.decorator_list
    return []
