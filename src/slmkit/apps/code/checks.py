"""Deterministic checks that small models miss, each a finding at an exact line.

Python (``ast`` and a scan of the names a module uses): a syntax error, a bare
``except:``, a mutable default argument, an unused import, ``== None`` / ``!= None``,
``is`` against a literal, an f-string without a placeholder is left to linters — these are
the ones that are bugs more often than style. Other languages: none (the model alone).
Where the fix is mechanical the finding carries it as a replacement of the quoted code.
"""

from __future__ import annotations

import ast
import warnings
from dataclasses import asdict, dataclass

SEVERITIES = ("error", "warning", "info")


@dataclass
class Finding:
    """One review finding. ``line`` is 1-based in the reviewed file; ``code`` is the
    quoted code (verbatim on that line); ``fix`` the replacement for ``code`` when there
    is one; ``patch`` a diff that applies; ``source``: ``check`` or ``model``."""

    path: str
    line: int
    severity: str
    message: str
    code: str = ""
    fix: str | None = None
    rule: str = ""
    source: str = "check"
    patch: str | None = None
    verified: bool = True

    def to_dict(self) -> dict:
        return asdict(self)


def python_checks(path: str, text: str) -> list[Finding]:
    """Every deterministic finding in Python source ``text``, by line."""
    try:
        with warnings.catch_warnings():  # `is "a"` warns: it is reported as a finding
            warnings.simplefilter("ignore", SyntaxWarning)
            tree = ast.parse(text)
    except SyntaxError as err:
        line = err.lineno or 1
        quoted = (text.splitlines()[line - 1].strip() if line <= len(text.splitlines())
                  else "")
        return [Finding(path, line, "error", f"syntax error: {err.msg}", quoted,
                        rule="syntax-error")]
    lines = text.splitlines()
    out: list[Finding] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ExceptHandler) and node.type is None:
            out.append(_bare_except(path, lines, node))
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            out.extend(_mutable_defaults(path, lines, node))
        elif isinstance(node, ast.Compare):
            out.extend(_compares(path, lines, node))
    out.extend(_unused_imports(path, lines, tree))
    return sorted((f for f in out if f is not None), key=lambda f: (f.line, f.rule))


def _line(lines: list[str], n: int) -> str:
    return lines[n - 1] if 0 < n <= len(lines) else ""


def _bare_except(path: str, lines: list[str], node: ast.ExceptHandler) -> Finding | None:
    src = _line(lines, node.lineno)
    quoted = "except:" if "except:" in src else src.strip()
    return Finding(path, node.lineno, "warning",
                   "bare `except:` also catches KeyboardInterrupt and SystemExit; "
                   "catch `Exception` (or the errors you expect)", quoted,
                   "except Exception:" if quoted == "except:" else None, "bare-except")


_MUTABLE = (ast.List, ast.Dict, ast.Set, ast.ListComp, ast.DictComp, ast.SetComp)


def _mutable_defaults(path: str, lines: list[str], node) -> list[Finding]:
    out = []
    for d in [*node.args.defaults, *(k for k in node.args.kw_defaults if k is not None)]:
        is_call = (isinstance(d, ast.Call) and isinstance(d.func, ast.Name)
                   and d.func.id in ("list", "dict", "set") and not d.args)
        if isinstance(d, _MUTABLE) or is_call:
            quoted = ast.get_source_segment("\n".join(lines), d) or ""
            if quoted and "\n" not in quoted:
                out.append(Finding(path, d.lineno, "warning",
                                   f"mutable default argument `{quoted}` is shared by every "
                                   "call; default to None and create it inside", quoted,
                                   rule="mutable-default"))
    return out


def _compares(path: str, lines: list[str], node: ast.Compare) -> list[Finding]:
    out = []
    left = node.left
    for op, right in zip(node.ops, node.comparators, strict=True):
        src = _line(lines, node.lineno)
        none_cmp = isinstance(op, (ast.Eq, ast.NotEq)) and any(
            isinstance(x, ast.Constant) and x.value is None for x in (left, right))
        if none_cmp:
            sym, fix = ("==", "is") if isinstance(op, ast.Eq) else ("!=", "is not")
            quoted = f"{sym} None" if f"{sym} None" in src else src.strip()
            out.append(Finding(path, node.lineno, "info",
                               f"compare to None with `{fix}`, not `{sym}`", quoted,
                               f"{fix} None" if quoted == f"{sym} None" else None, "none-compare"))
        literal = isinstance(right, ast.Constant) and isinstance(right.value, (str, int, float,
                                                                                 bytes)) \
            and not isinstance(right.value, bool)
        if isinstance(op, (ast.Is, ast.IsNot)) and literal:
            out.append(Finding(path, node.lineno, "error",
                               "`is` compares identity, not value: use `==` with a literal",
                               src.strip(), rule="is-literal"))
        left = right
    return out


def _unused_imports(path: str, lines: list[str], tree: ast.Module) -> list[Finding]:
    """Module-level imports whose name is never used (``__all__`` and ``__init__.py``
    re-exports excepted)."""
    if path.endswith("__init__.py"):
        return []
    used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    used |= {_root(n) for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    used |= _strings_in_all(tree)
    out = []
    for node in tree.body:
        if not isinstance(node, (ast.Import, ast.ImportFrom)):
            continue
        if isinstance(node, ast.ImportFrom) and node.module == "__future__":
            continue
        for alias in node.names:
            name = alias.asname or alias.name.split(".")[0]
            if name != "*" and name not in used:
                out.append(_unused(path, lines, node, alias, name))
    return out


def _unused(path: str, lines: list[str], node, alias, name: str) -> Finding:
    src = _line(lines, node.lineno)
    whole = len(node.names) == 1 and node.end_lineno == node.lineno
    return Finding(path, node.lineno, "info", f"`{name}` is imported but never used",
                   src.strip() if whole else (alias.asname or alias.name),
                   "" if whole else None, "unused-import")


def _root(node: ast.Attribute) -> str:
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else ""


def _strings_in_all(tree: ast.Module) -> set[str]:
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__"
                                                for t in node.targets):
            return {e.value for e in ast.walk(node.value)
                    if isinstance(e, ast.Constant) and isinstance(e.value, str)}
    return set()


def checks_for(path: str, text: str) -> list[Finding]:
    """The deterministic findings for a file of any language (Python only, for now)."""
    return python_checks(path, text) if path.endswith((".py", ".pyi")) else []
