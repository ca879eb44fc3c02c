"""An audit log of what the guard did: JSON lines with entity types, offsets, actions and
keyed hashes — never the values themselves.

Hashes are HMAC-SHA256 under a key (``SLM_GUARD_AUDIT_KEY``, or a random one per log), so
the same value can be recognised across entries of one log, yet a phone number cannot be
recovered by hashing every possible number.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from slmkit.guard.base import Finding


class AuditLog:
    """Appends one JSON object per guard event to ``path`` (or keeps them in memory when
    ``path`` is None). Thread-safe."""

    def __init__(self, path: str | os.PathLike | None = None, *, key: bytes | None = None) -> None:
        self.path = Path(path) if path is not None else None
        from slmkit.settings import get_settings

        set_key = get_settings().guard_audit_key
        self._key = key or (set_key.encode() if set_key else secrets.token_bytes(32))
        self._lock = threading.Lock()
        self.events: list[dict] = []

    def digest(self, value: str) -> str:
        """The keyed hash recorded for a value (first 16 hex digits)."""
        return hmac.new(self._key, value.encode("utf-8"), hashlib.sha256).hexdigest()[:16]

    def record(self, event: str, text: str, findings: Sequence[Finding], *,
               actions: dict[str, str], where: str = "", conversation: str = "") -> dict:
        """Log one event (``mask``, ``block``, ``keep_local``, ``scan``) over ``text``."""
        entry = {
            "ts": round(time.time(), 3), "event": event, "where": where,
            "conversation": conversation, "chars": len(text),
            "findings": [{"entity": f.entity, "start": f.start, "end": f.end,
                          "action": actions.get(f.entity, ""), "hash": self.digest(f.value(text)),
                          "recognizer": f.recognizer} for f in findings],
        }
        line = json.dumps(entry, ensure_ascii=False)
        with self._lock:
            if self.path is None:
                self.events.append(entry)
            else:
                self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW,
                             0o600)  # owner only: entries carry keyed hashes and offsets
                with os.fdopen(fd, "a", encoding="utf-8") as f:
                    f.write(line + "\n")
        return entry

    def read(self) -> list[dict]:
        """Every entry logged so far (from the file, or from memory)."""
        if self.path is None:
            with self._lock:
                return list(self.events)
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text("utf-8").splitlines() if line]
