"""`slm code review FILE|DIFF`: findings with lines, severity and a patch that applies.

What is reviewed is a list of :class:`Target`\\ s: each hunk of a diff (its new-side
lines), or each function/class of a file (``formats.code.units``). The model reviews one
target at a time under a JSON schema; each of its findings is then verified — its line must
lie in the target, the code it quotes must be on that line (one line off is moved), and a
suggested fix becomes a patch only if it applies to the file and, for Python, the patched
file still parses. Findings that fail are dropped and listed with the reason, so nothing the
model invents reaches the report. The deterministic checks (:mod:`.checks`) run on the
whole file and are kept where they fall in the reviewed lines.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from slmkit.apps.code import patch as P
from slmkit.apps.code.checks import SEVERITIES, Finding, checks_for
from slmkit.apps.llm import Calls, ask
from slmkit.core.engine import Engine
from slmkit.formats.code import units

MAX_LINES = 80  # a target's lines per model call
MAX_FINDINGS = 4
SYSTEM = ("You are a careful code reviewer. Each line of the code starts with its line "
          "number and '|'. Find the bugs: code that gives a wrong result, crashes, or leaks "
          "a resource. For each bug give the line number, a severity (error, warning or "
          "info), a one-sentence message, the exact code from that line (without its "
          "number), and the corrected code for that line.")
_NUMBER = re.compile(r"^\s*(?:\S+:)?\d+\s*[+ ]?\|\s?")  # "12 | " or "a.py:12 | " copied
SCHEMA = {"type": "object", "properties": {"findings": {
    "type": "array", "maxItems": MAX_FINDINGS, "items": {
        "type": "object", "properties": {
            "line": {"type": "integer"}, "severity": {"enum": list(SEVERITIES)},
            "message": {"type": "string", "maxLength": 200},
            "code": {"type": "string", "maxLength": 400},
            "fix": {"type": "string", "maxLength": 200}},
        "required": ["line", "severity", "message", "code", "fix"]}}},
    "required": ["findings"]}


@dataclass
class Target:
    """Lines ``first``..``last`` of ``path`` to review: ``shown`` holds ``(line, marker,
    text)`` (marker ``+`` for an added line of a diff)."""

    path: str
    label: str
    shown: list[tuple[int, str, str]]

    @property
    def first(self) -> int:
        return self.shown[0][0]

    @property
    def last(self) -> int:
        return self.shown[-1][0]

    def text_at(self, line: int) -> str | None:
        for n, _, t in self.shown:
            if n == line:
                return t
        return None


@dataclass
class Source:
    """One reviewed file: its new text when known (``None``: only the diff's lines)."""

    path: str
    text: str | None
    targets: list[Target] = field(default_factory=list)
    changed: set[int] | None = None  # a diff's added lines (None: the whole file)


def from_file(path: str, text: str) -> Source:
    """A file reviewed unit by unit (function, class, method, module code)."""
    lines = text.splitlines()
    src = Source(path, text)
    for u in units(path, text):
        for a in range(u.start, u.end + 1, MAX_LINES):
            b = min(a + MAX_LINES - 1, u.end)
            src.targets.append(Target(path, f"{u.kind} {u.symbol}",
                                      [(n, " ", lines[n - 1]) for n in range(a, b + 1)]))
    return src


def disk_reader(root: str | Path) -> Callable[[str], str | None]:
    """``read(path)``: the text of ``root/path``, or None when it cannot be read."""
    def read(path: str) -> str | None:
        try:
            return (Path(root) / path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None
    return read


def from_diff(diff: str, read: Callable[[str], str | None] = lambda path: None
              ) -> list[Source]:
    """The files of a unified diff, each hunk a target. A file's new text comes from
    ``read(path)`` (the diff applied to it, or the text as is when it already holds the
    change), or from the diff itself for a new file; without it only the hunks' lines are
    known (no deterministic checks, no patches)."""
    out = []
    for fd in P.parse(diff):
        if fd.path == "/dev/null":
            continue  # a deleted file: nothing left to review
        src = Source(fd.path, _new_text(fd, read), changed=set())
        for h in fd.hunks:
            shown = h.new_numbered()
            if shown:
                src.targets.append(Target(fd.path, f"hunk +{h.new_start},{h.new_len}", shown))
                src.changed |= {n for n, tag, _ in shown if tag == "+"}
        out.append(src)
    return out


def _new_text(fd: P.FileDiff, read: Callable[[str], str | None]) -> str | None:
    if fd.is_new:
        return "".join(t + "\n" for t in fd.hunks[0].new_lines()) if fd.hunks else ""
    disk = read(fd.path)
    if disk is None:
        return None
    try:
        return P.apply(disk, fd)
    except P.PatchError:
        lines = disk.splitlines()
        ok = all(lines[n - 1] == t for h in fd.hunks for n, _, t in h.new_numbered()
                 if n <= len(lines))
        return disk if ok else None


def numbered(target: Target) -> str:
    return "\n".join(f"{n:>4}{m}| {t}" for n, m, t in target.shown)


def model_findings(engine: Engine, target: Target, calls: Calls | None = None, *,
                   max_tokens: int = 400) -> list[dict[str, Any]]:
    """The model's raw findings for one target (``[]`` when its answer is not JSON)."""
    lang = Path(target.path).suffix.lstrip(".") or "text"
    user = f"File {target.path} ({target.label}), {lang}:\n\n{numbered(target)}"
    raw = ask(engine, SYSTEM, user, max_tokens=max_tokens, calls=calls, json_schema=SCHEMA)
    try:
        items = json.loads(raw).get("findings", [])
    except (ValueError, AttributeError):
        return []
    return [i for i in items if isinstance(i, dict)]


def locate(quote: str, target: Target, line: int) -> int | None:
    """The line of ``target`` holding ``quote`` verbatim: the claimed ``line`` or one next
    to it for a one-line quote; for a quote of several lines (each found verbatim, in order,
    on consecutive lines) the claimed line when it lies in them, else their first line."""
    parts = [q.strip() for q in quote.split("\n") if q.strip()]
    if len(parts) == 1:
        for n in (line, line - 1, line + 1):
            got = target.text_at(n)
            if got is not None and parts[0] in got:
                return n
        return None
    texts = [(n, t.strip()) for n, _, t in target.shown if t.strip()]
    for i in range(len(texts) - len(parts) + 1):
        if all(texts[i + j][1] == p for j, p in enumerate(parts)):
            first, last = texts[i][0], texts[i + len(parts) - 1][0]
            return line if first <= line <= last else first
    return None


def verify(item: dict[str, Any], target: Target) -> tuple[Finding | None, str]:
    """A model finding checked against the target: (finding, "") or (None, why not)."""
    line = item.get("line")
    quote = "\n".join(_NUMBER.sub("", q) for q in str(item.get("code") or "").split("\n"))
    quote = quote.strip().strip("`").strip()
    if not isinstance(line, int) or not target.first <= line <= target.last:
        return None, f"line {line} is outside the reviewed lines {target.first}-{target.last}"
    if not quote:
        return None, "no code quoted"
    at = locate(quote, target, line)
    if at is None:
        return None, f"quoted code {quote[:60]!r} is not in the reviewed lines near {line}"
    message = str(item.get("message") or "").strip()
    if not message:
        return None, "no message"
    sev = item.get("severity") if item.get("severity") in SEVERITIES else "warning"
    fix = str(item.get("fix") or "").strip()
    one_line = "\n" not in quote
    return Finding(target.path, at, sev, message, quote, fix if fix and one_line else None,
                   source="model"), ""


def attach_patch(f: Finding, text: str | None) -> Finding:
    """``f.patch``: the fix as a diff, kept only if it applies and the patched file still
    parses (Python: a model's fix for another language is left as text, unchecked)."""
    if text is None or f.fix is None or (f.source == "model" and not f.path.endswith(".py")):
        return f
    diff = P.replace_line(f.path, text, f.line, f.code, f.fix)
    if diff is None:
        return f
    try:
        patched = P.apply(text, P.parse(diff)[0])
        if f.path.endswith(".py"):
            ast.parse(patched)
    except (P.PatchError, SyntaxError, ValueError):
        return f
    f.patch = diff
    return f


def review(engine: Engine | None, sources: list[Source], *, max_tokens: int = 400,
           progress: Callable[[dict], None] | None = None) -> dict[str, Any]:
    """Review ``sources``: deterministic checks, then (with an ``engine``) the model per
    target, verified; ``max_tokens`` bounds each answer (a cut answer is not JSON: no
    findings). Returns ``{"findings", "dropped", "targets", "calls"}``."""
    findings: list[Finding] = []
    dropped: list[dict[str, Any]] = []
    calls = Calls()
    total = sum(len(s.targets) for s in sources)
    done = 0
    for src in sources:
        findings.extend(_checked(src))
        for t in src.targets if engine is not None else ():
            for item in model_findings(engine, t, calls, max_tokens=max_tokens):
                f, why = verify(item, t)
                if f is None:
                    dropped.append({"path": t.path, "line": item.get("line"), "reason": why,
                                    "message": item.get("message")})
                elif not _duplicate(f, findings):
                    findings.append(attach_patch(f, src.text))
            done += 1
            if progress:
                progress({"done": done, "total": total, "item": f"{t.path} {t.label}"})
    findings.sort(key=lambda f: (f.path, f.line, f.source))
    return {"findings": [f.to_dict() for f in findings], "dropped": dropped,
            "targets": [{"path": t.path, "label": t.label, "lines": [t.first, t.last]}
                        for s in sources for t in s.targets],
            "calls": calls.to_dict()}


def _checked(src: Source) -> list[Finding]:
    if src.text is None:
        return []
    out = []
    for f in checks_for(src.path, src.text):
        if src.changed is None or f.line in src.changed:
            out.append(attach_patch(f, src.text))
    return out


def _duplicate(f: Finding, found: list[Finding]) -> bool:
    return any(g.path == f.path and g.line == f.line and g.message.lower() == f.message.lower()
               for g in found)


def render(report: dict[str, Any]) -> str:
    """The report as text: ``path:line: severity: message [rule]``, fixes as diffs."""
    out = []
    for f in report["findings"]:
        tag = f["rule"] or f["source"]
        out.append(f"{f['path']}:{f['line']}: {f['severity']}: {f['message']} [{tag}]")
        if f["patch"]:
            out.append("".join("    " + ln for ln in f["patch"].splitlines(keepends=True)))
    n, d = len(report["findings"]), len(report["dropped"])
    out.append(f"{n} finding(s) in {len(report['targets'])} reviewed part(s); "
               f"{d} model finding(s) dropped as unverifiable")
    return "\n".join(out)


def load(spec: str, stdin_text: str | None = None, root: str | Path = ".") -> list[Source]:
    """Sources from a CLI argument: ``-`` (stdin), a ``.diff``/``.patch`` file, or a source
    file; text that looks like a diff is reviewed as one."""
    if spec == "-":
        text, name = stdin_text or "", "<stdin>"
    else:
        try:
            text, name = Path(spec).read_text(encoding="utf-8"), spec
        except (OSError, UnicodeDecodeError) as err:
            raise ValueError(f"cannot read {spec}: {err}") from None
    if name.endswith((".diff", ".patch")) or P.looks_like_diff(text):
        return from_diff(text, disk_reader(root))
    if name == "<stdin>":
        raise ValueError("stdin holds no unified diff; give a file path to review a file")
    return [from_file(name, text)]
