"""Syntax-aware truncation: cut a completion where the code around it still parses.

The completion is cut at line ends, longest first, until ``before + cut + after`` parses:
Python with the standard library's ``ast`` (exact), other languages with tree-sitter when
its grammar package is installed (``tree_sitter_<lang>``), and bracket balance otherwise.
When the surrounding file did not parse to begin with, the completion's own brackets must
balance and, for Python, the cut must not end inside an open block header.
"""

from __future__ import annotations

import ast
import re
import warnings
from functools import lru_cache
from pathlib import PurePath

EXTENSIONS = {".py": "python", ".pyi": "python", ".js": "javascript", ".mjs": "javascript",
              ".ts": "typescript", ".tsx": "tsx", ".java": "java", ".c": "c", ".h": "c",
              ".cc": "cpp", ".cpp": "cpp", ".hpp": "cpp", ".go": "go", ".rs": "rust",
              ".rb": "ruby", ".cs": "c_sharp", ".kt": "kotlin", ".php": "php",
              ".sh": "bash", ".json": "json"}
_PAIRS = {")": "(", "]": "[", "}": "{"}
_STRINGS = re.compile(r'"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'|`[^`]*`|//[^\n]*|#[^\n]*'
                      r'|/\*.*?\*/', re.DOTALL)


def language_of(filename: str, text: str = "") -> str:
    """The language of a file by its extension (``python`` for Python-looking text)."""
    lang = EXTENSIONS.get(PurePath(filename).suffix.lower()) if filename else None
    if lang:
        return lang
    if re.search(r"^\s*(def |class |import |from \S+ import )", text, re.MULTILINE):
        return "python"
    return "text"


def parses(code: str, lang: str) -> bool | None:
    """Whether ``code`` parses in ``lang`` (None: no parser for it here)."""
    if lang == "python":
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ast.parse(code)
            return True
        except (SyntaxError, ValueError):
            return False
    parser = _tree_sitter(lang)
    if parser is None:
        return None
    return not parser.parse(code.encode("utf-8")).root_node.has_error


@lru_cache(maxsize=16)
def _tree_sitter(lang: str):
    try:
        import importlib

        import tree_sitter

        grammar = importlib.import_module(f"tree_sitter_{lang}")
        return tree_sitter.Parser(tree_sitter.Language(grammar.language()))
    except (ImportError, AttributeError, ValueError, TypeError):
        return None


def balance(code: str) -> int | None:
    """Open minus closed brackets outside strings and comments; None on a mismatch."""
    stack: list[str] = []
    for ch in _STRINGS.sub("", code):
        if ch in "([{":
            stack.append(ch)
        elif ch in _PAIRS:
            if stack and stack[-1] == _PAIRS[ch]:
                stack.pop()
            elif stack:
                return None
            else:
                stack.append(ch)  # closes something opened before the completion
    return len(stack)


def _cuts(middle: str) -> list[str]:
    """Candidate completions: the whole, then up to each line end, longest first."""
    lines = middle.splitlines(keepends=True)
    out = [middle]
    for i in range(len(lines) - 1, 0, -1):
        cand = "".join(lines[:i])
        if cand.strip() and cand not in out:
            out.append(cand)
    return out


def complete_prefix(before: str, middle: str, after: str, lang: str) -> str:
    """The longest cut of ``middle`` (at line ends) that leaves the code complete."""
    cands = _cuts(middle)
    whole_ok = parses(before + after, lang)
    if whole_ok:
        for cand in cands:
            if parses(before + cand + after, lang):
                return cand
    base = balance(before + after)
    for cand in cands:
        b = balance(before + cand + after)
        if (b is not None and (base is None or b <= base) and not _unclosed(cand)
                and not _open_header(cand, lang)):
            return cand
    return middle


def _unclosed(code: str) -> bool:
    """Whether ``code`` opens a bracket it does not close (closing outer ones is fine)."""
    depth = 0
    for ch in _STRINGS.sub("", code):
        if ch in "([{":
            depth += 1
        elif ch in _PAIRS and depth:
            depth -= 1
    return depth > 0


def _open_header(code: str, lang: str) -> bool:
    """Python: the cut ends on a block header (``if x:``) with no body after it."""
    if lang != "python":
        return False
    last = next((ln for ln in reversed(code.splitlines()) if ln.strip()), "")
    return last.rstrip().endswith(":") and not last.lstrip().startswith("#")
