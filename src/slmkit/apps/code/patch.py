"""Unified diffs: parse one, apply it to a text in memory (as strictly as ``git apply``:
context must match, a hunk may only move by a line offset), and write one from two texts.

Used by `slm code review` (a diff to review, a suggested fix that must apply) and
`slm code doc` (its output is a patch).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field

_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


class PatchError(ValueError):
    """A diff that cannot be read, or that does not apply to the text it is meant for."""


@dataclass
class Hunk:
    """One ``@@`` block: where it starts on each side and its lines as ``(tag, text)``
    with tag ``' '`` (context), ``'-'`` (removed) or ``'+'`` (added)."""

    old_start: int
    old_len: int
    new_start: int
    new_len: int
    lines: list[tuple[str, str]] = field(default_factory=list)

    def old_lines(self) -> list[str]:
        return [t for tag, t in self.lines if tag != "+"]

    def new_lines(self) -> list[str]:
        return [t for tag, t in self.lines if tag != "-"]

    def new_numbered(self) -> list[tuple[int, str, str]]:
        """``(new line number, tag, text)`` for the context and added lines."""
        out, n = [], self.new_start
        for tag, text in self.lines:
            if tag == "-":
                continue
            out.append((n, tag, text))
            n += 1
        return out


@dataclass
class FileDiff:
    """The hunks of one file; ``path`` is the new name without ``b/`` (``old_path`` the
    old one; ``/dev/null`` for a created or deleted file)."""

    old_path: str
    path: str
    hunks: list[Hunk] = field(default_factory=list)

    @property
    def is_new(self) -> bool:
        return self.old_path == "/dev/null"


def looks_like_diff(text: str) -> bool:
    """True when ``text`` holds a unified diff (file headers and a hunk header)."""
    return bool(re.search(r"^--- \S", text, re.M) and re.search(r"^\+\+\+ \S", text, re.M)
                and re.search(r"^@@ -\d", text, re.M))


def _strip(name: str) -> str:
    name = name.split("\t", 1)[0].strip()
    return name[2:] if name[:2] in ("a/", "b/") else name


def parse(text: str) -> list[FileDiff]:
    """The files of a unified diff (``git diff``, ``diff -u``). Raises :class:`PatchError`
    for a hunk whose line counts do not match its header."""
    files: list[FileDiff] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("--- ") and i + 1 < len(lines) and lines[i + 1].startswith("+++ "):
            files.append(FileDiff(_strip(line[4:]), _strip(lines[i + 1][4:])))
            i += 2
            continue
        m = _HUNK.match(line)
        if m and files:
            hunk, i = _read_hunk(lines, i + 1, m)
            files[-1].hunks.append(hunk)
            continue
        i += 1
    if not files or not any(f.hunks for f in files):
        raise PatchError("no unified diff found (expected '--- a/…', '+++ b/…' and '@@' lines)")
    return files


def _read_hunk(lines: list[str], i: int, m: re.Match) -> tuple[Hunk, int]:
    old_len = int(m[2]) if m[2] is not None else 1
    new_len = int(m[4]) if m[4] is not None else 1
    hunk = Hunk(int(m[1]), old_len, int(m[3]), new_len)
    olds = news = 0
    while i < len(lines) and (olds < old_len or news < new_len):
        line = lines[i]
        if line.startswith("\\"):  # "\ No newline at end of file"
            i += 1
            continue
        tag, body = (line[:1] or " "), line[1:]
        if tag not in " +-":
            break
        hunk.lines.append((tag, body))
        olds += tag != "+"
        news += tag != "-"
        i += 1
    if (olds, news) != (old_len, new_len):
        raise PatchError(f"hunk @@ -{hunk.old_start},{old_len} +{hunk.new_start},{new_len} @@ "
                         f"has {olds} old and {news} new lines")
    return hunk, i


def apply(text: str, diff: FileDiff) -> str:
    """``text`` with ``diff``'s hunks applied. Each hunk's old lines must appear exactly
    (at its position or shifted by some lines, nearest first); :class:`PatchError` says
    which hunk does not apply."""
    lines = text.splitlines(keepends=True)
    ending = "\r\n" if lines and lines[0].endswith("\r\n") else "\n"
    out: list[str] = []
    pos = 0  # next unread line of the original
    for hunk in diff.hunks:
        old = hunk.old_lines()
        at = _find(lines, old, hunk.old_start - 1 if hunk.old_len else hunk.old_start, pos)
        if at is None:
            raise PatchError(f"hunk @@ -{hunk.old_start},{hunk.old_len} @@ does not apply to "
                             f"{diff.path}: its context is not in the file")
        out.extend(lines[pos:at])
        out.extend(t + ending for t in hunk.new_lines())
        pos = at + len(old)
    out.extend(lines[pos:])
    result = "".join(out)
    if text and not text.endswith(("\n", "\r")) and result.endswith(ending) \
            and pos >= len(lines):
        result = result[: -len(ending)]
    return result


def _find(lines: list[str], old: list[str], want: int, lo: int) -> int | None:
    """Where ``old`` starts in ``lines`` at or after ``lo``, nearest to ``want``."""
    bare = [ln.rstrip("\r\n") for ln in lines]
    n = len(old)
    candidates = range(lo, len(bare) - n + 1)
    for at in sorted(candidates, key=lambda a: abs(a - want)):
        if bare[at:at + n] == old:
            return at
    return None


def unified(path: str, old: str, new: str, *, context: int = 3) -> str:
    """A ``git apply``-able diff turning ``old`` into ``new`` for file ``path``."""
    path = path.lstrip("/")  # a/… b/… prefixes on a relative name, as git writes them
    a, b = old.splitlines(keepends=True), new.splitlines(keepends=True)
    for side in (a, b):
        if side and not side[-1].endswith("\n"):
            side[-1] += "\n\\ No newline at end of file\n"
    return "".join(difflib.unified_diff(a, b, f"a/{path}", f"b/{path}", n=context))


def replace_line(path: str, text: str, line: int, old: str, new: str) -> str | None:
    """A diff replacing ``old`` with ``new`` on 1-based ``line`` of ``text`` (``None`` when
    the line does not hold ``old`` or nothing would change). ``new`` may span lines; an
    empty ``new`` for a line's whole code removes the line."""
    lines = text.splitlines(keepends=True)
    if not 1 <= line <= len(lines) or not old or old not in lines[line - 1] or old == new:
        return None
    if not new and lines[line - 1].strip() == old.strip():
        del lines[line - 1]
    else:
        lines[line - 1] = lines[line - 1].replace(old, new, 1)
    return unified(path, text, "".join(lines))
