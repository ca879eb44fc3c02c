"""Reversible pseudonymization: a per-conversation vault of placeholders.

The same value always gets the same placeholder within a vault (``<EMAIL_1>`` stays
Jane's address for the whole conversation), so a remote model can still reason about who
is who. Masking then unmasking gives back the exact input: text that already looks like
a placeholder is itself vaulted as ``LITERAL``, so every placeholder in masked text was
issued by the vault. A vault holds raw values: keep it local, and save it only to a
private file.
"""

from __future__ import annotations

import json
import os
import re
import threading
import uuid
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from slmkit.core.errors import SlmError
from slmkit.guard.base import LITERAL, Finding
from slmkit.util.files import atomic_write

# the lookahead bounds the work per "<" (a placeholder is at most MAX_PLACEHOLDER long)
PLACEHOLDER_RE = re.compile(r"<(?=[A-Z0-9_]{3,50}>)([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*?)_(\d{1,9})>")
# an unfinished placeholder at the end of a chunk: "<", "<EM", "<EMAIL_1"
_PARTIAL_RE = re.compile(r"<[A-Z0-9_]{0,40}$")
MAX_PLACEHOLDER = 52
# Bytes a vault entry holds besides its value: the placeholder string, the (entity, value)
# tuple and a slot in each of the two dicts (measured with sys.getsizeof on CPython 3.11).
ENTRY_OVERHEAD = 320


def entry_bytes(value: str) -> int:
    """The estimated memory of one vault entry holding ``value``."""
    return ENTRY_OVERHEAD + len(value) * (1 if value.isascii() else 4)


class VaultFullError(SlmError):
    """A conversation's vault reached its memory cap."""

    code = "vault_full"

    def __init__(self, max_bytes: int) -> None:
        super().__init__(f"this conversation's vault holds its maximum of {max_bytes:,} bytes "
                         "of masked values",
                         hint="start a new conversation (omit conversation_id) for more text")


class Vault:
    """Placeholders ↔ values for one conversation. Thread-safe."""

    def __init__(self, conversation_id: str | None = None, *,
                 max_bytes: int | None = None) -> None:
        self.id = conversation_id or uuid.uuid4().hex[:12]
        self.max_bytes = max_bytes
        self.nbytes = 0  # an estimate of the memory the entries hold (see ENTRY_OVERHEAD)
        self._lock = threading.Lock()
        self._by_value: dict[tuple[str, str], str] = {}
        self._by_placeholder: dict[str, str] = {}
        self._counts: dict[str, int] = {}

    def placeholder(self, entity: str, value: str) -> str:
        """The placeholder for ``value`` (issued on first sight, reused after). Raises
        :class:`VaultFullError` when a new entry would take the vault over ``max_bytes``."""
        key = (entity, value)
        with self._lock:
            found = self._by_value.get(key)
            if found is None:
                cost = entry_bytes(value)
                if self.max_bytes is not None and self.nbytes + cost > self.max_bytes:
                    raise VaultFullError(self.max_bytes)
                self.nbytes += cost
                n = self._counts.get(entity, 0) + 1
                self._counts[entity] = n
                found = f"<{entity}_{n}>"
                self._by_value[key] = found
                self._by_placeholder[found] = value
            return found

    def value(self, placeholder: str) -> str | None:
        """The value behind a placeholder this vault issued, else None."""
        with self._lock:
            return self._by_placeholder.get(placeholder)

    def __len__(self) -> int:
        with self._lock:
            return len(self._by_placeholder)

    def __contains__(self, placeholder: object) -> bool:
        with self._lock:
            return placeholder in self._by_placeholder

    # ---- text ----------------------------------------------------------------------------
    def mask(self, text: str, findings: Sequence[Finding]) -> str:
        """Replace each finding (non-overlapping) and each placeholder-like literal."""
        spans = _with_literals(text, findings)
        out, pos = [], 0
        for f in spans:
            out.append(text[pos:f.start])
            out.append(self.placeholder(f.entity, f.value(text)))
            pos = f.end
        out.append(text[pos:])
        return "".join(out)

    def unmask(self, text: str) -> str:
        """Put the values back; placeholders this vault did not issue stay as they are."""
        with self._lock:
            table = dict(self._by_placeholder)
        return PLACEHOLDER_RE.sub(lambda m: table.get(m.group(), m.group()), text)

    def unmask_stream(self, chunks: Iterable[str]) -> Iterator[str]:
        """Unmask a stream of text pieces; placeholders split across pieces are joined."""
        stream = StreamUnmasker(self)
        for chunk in chunks:
            out = stream.push(chunk)
            if out:
                yield out
        tail = stream.flush()
        if tail:
            yield tail

    # ---- persistence ---------------------------------------------------------------------
    def to_dict(self) -> dict:
        with self._lock:
            return {"id": self.id, "entries": [
                {"placeholder": p, "entity": e, "value": v}
                for (e, v), p in self._by_value.items()]}

    @classmethod
    def from_dict(cls, data: dict) -> Vault:
        vault = cls(data.get("id"))
        for entry in data.get("entries", []):
            p, entity, value = entry["placeholder"], entry["entity"], entry["value"]
            vault._by_value[(entity, value)] = p
            vault._by_placeholder[p] = value
            vault.nbytes += entry_bytes(value)
            n = int(PLACEHOLDER_RE.fullmatch(p).group(2))
            vault._counts[entity] = max(vault._counts.get(entity, 0), n)
        return vault

    def save(self, path: str | os.PathLike) -> None:
        """Write the vault as JSON, readable by the owner only (it holds raw values): a new
        directory is 0700, the file 0600, written to a fresh temp file (``O_EXCL |
        O_NOFOLLOW``: a planted file or symlink is never written through), synced, then
        renamed over ``path``, so a crash leaves the old vault or the new one."""
        path = Path(path)
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        atomic_write(path, json.dumps(self.to_dict(), ensure_ascii=False, indent=1),
                     mode=0o600, fsync=True)

    @classmethod
    def load(cls, path: str | os.PathLike) -> Vault:
        """Read a vault written by :meth:`save`."""
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))


def _with_literals(text: str, findings: Sequence[Finding]) -> list[Finding]:
    """Findings plus placeholder-looking text outside them, so unmasking is exact. One merge
    walk over both sorted lists (linear, however many of each)."""
    spans = sorted(findings, key=lambda f: f.start)
    literals, i, reach = [], 0, -1  # reach: the furthest end of the findings passed so far
    for m in PLACEHOLDER_RE.finditer(text):
        while i < len(spans) and spans[i].start < m.end():
            reach = max(reach, spans[i].end)
            i += 1
        # findings starting before m.end() that reach past m.start() overlap this literal
        if reach <= m.start():
            literals.append(Finding(LITERAL, m.start(), m.end(), 1.0, "literal"))
    return sorted(spans + literals, key=lambda f: f.start) if literals else spans


class StreamUnmasker:
    """Incremental unmasking: ``push`` returns the text that is safe to show now, holding
    back a tail that may be the start of a placeholder; ``flush`` returns the rest."""

    def __init__(self, vault: Vault) -> None:
        self.vault = vault
        self._held = ""

    def push(self, text: str) -> str:
        buf = self._held + text
        m = _PARTIAL_RE.search(buf, max(0, len(buf) - MAX_PLACEHOLDER))
        cut = m.start() if m else len(buf)
        self._held = buf[cut:]
        return self.vault.unmask(buf[:cut])

    def flush(self) -> str:
        held, self._held = self._held, ""
        return self.vault.unmask(held)
