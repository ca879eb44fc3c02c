"""The guard applied to plain text, as `slm guard scan|mask|unmask` uses it: a guard from
option strings, findings with their line and column, and unmasking a stream in pieces."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass

from slmkit.core.options import opt
from slmkit.guard.audit import AuditLog
from slmkit.guard.policy import Policy
from slmkit.guard.protect import Guard
from slmkit.guard.scanner import Scanner
from slmkit.guard.vault import StreamUnmasker, Vault

CHUNK = 4096  # characters read at a time from a file


def read_text(path: str) -> str:
    """The whole text of ``path`` ('-': standard input); undecodable bytes replaced."""
    if path == "-":
        return sys.stdin.read()
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read()


@dataclass(frozen=True)
class GuardSpec:
    """A guard as option strings (`slm guard scan|mask` declare their options from it)."""

    policy: str = opt("", "actions per type, e.g. KR_RRN=block,PERSON=keep_local,"
                          "IP_ADDRESS=allow", metavar="SPEC")
    entities: str = opt("", "comma-separated types to look for (default: all)",
                        metavar="TYPES")
    no_ner: bool = opt(False, "do not use Presidio/spaCy NER for names even when installed")

    def build(self, audit_path: str | None = None) -> Guard:
        """The guard (``audit_path``: a JSON-lines log of what it masks)."""
        return build_guard(self.policy, self.entities, ner=not self.no_ner,
                           audit_path=audit_path)


def build_guard(policy: str = "", entities: str = "", *, ner: bool = True,
                audit_path: str | None = None) -> Guard:
    """A guard from ``TYPE=action,…`` and ``TYPE,TYPE`` strings (empty: defaults, every
    type); ``ner``: Presidio/spaCy names when installed; ``audit_path``: a JSON-lines log."""
    types = [e.strip().upper() for e in entities.split(",") if e.strip()] or None
    scanner = Scanner(entities=types, ner="auto" if ner else False)
    audit = AuditLog(audit_path) if audit_path else None
    return Guard(Policy.parse(policy), scanner=scanner, audit=audit)


def scan_rows(guard: Guard, text: str, *, show_values: bool = False) -> list[dict]:
    """Each finding in ``text`` with its 1-based ``line``/``column``, the policy's
    ``action`` and, with ``show_values``, the value itself."""
    rows = []
    for f in guard.scan(text):
        line = text.count("\n", 0, f.start) + 1
        col = f.start - (text.rfind("\n", 0, f.start) + 1) + 1
        row = {**f.to_dict(), "line": line, "column": col, "action": guard.policy.action(f.entity)}
        if show_values:
            row["value"] = f.value(text)
        rows.append(row)
    return rows


def scan_table(rows: list[dict], show_values: bool = False) -> tuple[tuple, list[tuple]]:
    """:func:`scan_rows` as (header, rows) for a table: place, type, length, action,
    recognizer (and value)."""
    values = ("value",) if show_values else ()
    return (("line:col", "type", "chars", "action", "recognizer", *values),
            [(f"{r['line']}:{r['column']}", r["entity"], r["end"] - r["start"], r["action"],
              r["recognizer"], *(r.get(v) for v in values)) for r in rows])


def unmask_path(vault: Vault, path: str, write: Callable[[str], object]) -> None:
    """:func:`unmask_stream` over ``path``: a file in pieces, standard input ('-') a line
    at a time, so answers piped through show as they stream."""
    if path == "-":
        unmask_stream(vault, sys.stdin.readline, write)
        return
    with open(path, encoding="utf-8") as source:
        unmask_stream(vault, lambda: source.read(CHUNK), write)


def unmask_stream(vault: Vault, read: Callable[[], str], write: Callable[[str], object]) -> None:
    """Copy ``read()`` pieces (until an empty one) to ``write`` with the vault's values put
    back; a placeholder split across pieces is held until it is whole."""
    stream = StreamUnmasker(vault)
    while piece := read():
        write(stream.push(piece))
    write(stream.flush())


def mask_text(guard: Guard, text: str, vault_path: str | None = None, *, where: str = ""):
    """Protect ``text`` with the vault at ``vault_path`` (loaded when it exists, saved after,
    so placeholders stay consistent across calls); without a path, a fresh vault that is not
    kept. Returns the guard's ``Protected`` result."""
    import os

    vault = Vault.load(vault_path) if vault_path and os.path.exists(vault_path) else Vault()
    protected = guard.protect(text, vault, where=where)
    if vault_path:
        vault.save(vault_path)
    return protected
