"""The guard as a long-running service: scan, mask and unmask over many requests, with one
vault per conversation kept in memory (bounded and expiring), so ``unmask`` later restores
what ``mask`` replaced. The HTTP routes (``serve/routes_guard.py``) call this; the CLI wires
it in, so serve does not import guard.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict

from slmkit.core.errors import SlmError
from slmkit.guard.protect import Guard
from slmkit.guard.vault import Vault


class UnknownConversationError(SlmError):
    code = "conversation_not_found"

    def __init__(self, conversation_id: str) -> None:
        super().__init__(f"no vault for conversation {conversation_id!r}",
                         hint="mask with this conversation_id first; vaults expire after "
                              "their time-to-live and the oldest are dropped when full")


class VaultSessions:
    """Vaults by conversation id: least recently used dropped beyond ``max_vaults``, any
    unused for ``ttl`` seconds expired. Thread-safe."""

    def __init__(self, *, max_vaults: int = 10_000, ttl: float = 3600.0,
                 clock=time.monotonic) -> None:
        if max_vaults < 1 or ttl <= 0:
            raise ValueError("max_vaults must be >= 1 and ttl > 0")
        self.max_vaults, self.ttl, self._clock = max_vaults, ttl, clock
        self._vaults: OrderedDict[str, tuple[Vault, float]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, conversation_id: str | None, *, create: bool) -> Vault:
        now = self._clock()
        with self._lock:
            self._expire(now)
            if conversation_id in self._vaults:
                vault, _ = self._vaults.pop(conversation_id)
            elif create:
                vault = Vault(conversation_id)
            else:
                raise UnknownConversationError(str(conversation_id))
            self._vaults[vault.id] = (vault, now)
            while len(self._vaults) > self.max_vaults:
                self._vaults.popitem(last=False)
            return vault

    def drop(self, conversation_id: str) -> bool:
        with self._lock:
            return self._vaults.pop(conversation_id, None) is not None

    def __len__(self) -> int:
        with self._lock:
            self._expire(self._clock())
            return len(self._vaults)

    def _expire(self, now: float) -> None:
        while self._vaults:
            _, (_, used) = next(iter(self._vaults.items()))
            if now - used < self.ttl:
                return
            self._vaults.popitem(last=False)


class GuardService:
    """``scan`` / ``mask`` / ``unmask`` with per-conversation vaults. Results are plain
    dicts (the HTTP shape); values are never returned by ``scan`` unless asked."""

    def __init__(self, guard: Guard | None = None, sessions: VaultSessions | None = None
                 ) -> None:
        self.guard = guard or Guard()
        self.sessions = sessions or VaultSessions()

    def scan(self, text: str, *, show_values: bool = False) -> dict:
        rows = []
        for f in self.guard.scan(text):
            row = {**f.to_dict(), "action": self.guard.policy.action(f.entity)}
            if show_values:
                row["value"] = f.value(text)
            rows.append(row)
        return {"findings": rows, "count": len(rows)}

    def mask(self, text: str, *, conversation_id: str | None = None) -> dict:
        vault = self.sessions.get(conversation_id, create=True)
        p = self.guard.protect(text, vault, where="http")
        return {"text": p.text, "conversation_id": vault.id,
                "findings": [f.to_dict() for f in p.findings], "keep_local": list(p.keep_local)}

    def unmask(self, text: str, *, conversation_id: str) -> dict:
        vault = self.sessions.get(conversation_id, create=False)
        return {"text": vault.unmask(text), "conversation_id": vault.id}

    def forget(self, conversation_id: str) -> dict:
        return {"conversation_id": conversation_id,
                "deleted": self.sessions.drop(conversation_id)}
