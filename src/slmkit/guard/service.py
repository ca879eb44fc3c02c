"""The guard as a long-running service: scan, mask and unmask over many requests, with one
vault per conversation kept in memory, so ``unmask`` later restores what ``mask`` replaced.
The HTTP routes (``serve/routes_guard.py``) call this; the CLI wires it in, so serve does not
import guard.

Who may use a vault: conversation ids are generated here (``secrets.token_urlsafe``, 144
random bits) and never taken from a client, and each vault is bound to its owner: a digest
of the API key that created it. Another key, or no key, gets the same 404 as for an id that
does not exist. On a keyless server (loopback by default) the owner is empty and the id
alone is the capability, so it is unguessable by construction.

Memory: each vault is capped (``max_vault_bytes``: a mask that would go over raises
:class:`VaultFullError`, a 413), all vaults together too (``max_bytes``: the least recently
used are evicted, and using an evicted id says so), and vaults expire ``ttl`` seconds after
their last use. Sizes are estimates of what the entries hold (``vault.entry_bytes``).
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import OrderedDict

from slmkit.core.errors import SlmError
from slmkit.guard.protect import Guard
from slmkit.guard.vault import Vault, VaultFullError

__all__ = ["GuardService", "UnknownConversationError", "VaultFullError", "VaultSessions"]

MAX_VAULT_BYTES = 16 << 20
MAX_TOTAL_BYTES = 512 << 20
EVICTED_MEMORY = 4096  # how many evicted ids are remembered, to say "evicted" not "unknown"


class UnknownConversationError(SlmError):
    code = "conversation_not_found"

    def __init__(self, conversation_id: str, *, evicted: bool = False) -> None:
        why = (" (evicted: the server's vault memory was full and this one was the least "
               "recently used)" if evicted else "")
        super().__init__(f"no vault for conversation {conversation_id!r}{why}",
                         hint="omit conversation_id to start a new conversation, and use the "
                              "id it returns with the same API key; vaults expire after "
                              "their time-to-live and the least recently used are dropped "
                              "when the server's vault memory is full")


class VaultSessions:
    """Vaults by conversation id, each with its owner: least recently used dropped beyond
    ``max_vaults`` or ``max_bytes``, any unused for ``ttl`` seconds expired. Thread-safe."""

    def __init__(self, *, max_vaults: int = 10_000, ttl: float = 3600.0,
                 max_bytes: int = MAX_TOTAL_BYTES, max_vault_bytes: int = MAX_VAULT_BYTES,
                 clock=time.monotonic) -> None:
        if max_vaults < 1 or ttl <= 0 or max_bytes < 1 or max_vault_bytes < 1:
            raise ValueError("max_vaults, max_bytes and max_vault_bytes must be >= 1 "
                             "and ttl > 0")
        self.max_vaults, self.ttl, self._clock = max_vaults, ttl, clock
        self.max_bytes, self.max_vault_bytes = max_bytes, min(max_vault_bytes, max_bytes)
        self._vaults: OrderedDict[str, tuple[Vault, str, float]] = OrderedDict()
        self._known: dict[str, int] = {}  # bytes last accounted per vault
        self._evicted: OrderedDict[str, None] = OrderedDict()
        self.nbytes = 0
        self.evicted = 0
        self._lock = threading.Lock()

    def create(self, owner: str = "") -> Vault:
        """A new vault under a fresh server-generated id, owned by ``owner``."""
        return self.get(None, create=True, owner=owner)

    def get(self, conversation_id: str | None, *, create: bool, owner: str = "") -> Vault:
        """The vault for ``conversation_id`` if ``owner`` owns it; with ``create``, a new one
        when the id is None (or, for callers inside the process, not known)."""
        now = self._clock()
        with self._lock:
            self._expire(now)
            held = self._vaults.get(conversation_id) if conversation_id else None
            if held is not None and hmac.compare_digest(held[1], owner):
                vault = held[0]
                self._vaults.move_to_end(conversation_id)
            elif create and held is None:
                vault = Vault(conversation_id or secrets.token_urlsafe(18),
                              max_bytes=self.max_vault_bytes)
                self._known[vault.id] = 0
            else:
                raise UnknownConversationError(str(conversation_id),
                                               evicted=conversation_id in self._evicted)
            self._vaults[vault.id] = (vault, owner, now)
            while len(self._vaults) > self.max_vaults:
                self._pop_oldest(evicted=True)
            return vault

    def account(self, vault: Vault) -> None:
        """Take note of what ``vault`` holds now; evict the least recently used others
        while all vaults together are over ``max_bytes``."""
        with self._lock:
            if vault.id not in self._known:
                return
            self.nbytes += vault.nbytes - self._known[vault.id]
            self._known[vault.id] = vault.nbytes
            while self.nbytes > self.max_bytes and len(self._vaults) > 1:
                oldest = next(iter(self._vaults))
                if oldest == vault.id:
                    self._vaults.move_to_end(oldest)
                    continue
                self._pop_oldest(evicted=True)

    def drop(self, conversation_id: str, owner: str = "") -> bool:
        with self._lock:
            held = self._vaults.get(conversation_id)
            if held is None or not hmac.compare_digest(held[1], owner):
                return False
            self._forget(conversation_id)
            return True

    def __len__(self) -> int:
        with self._lock:
            self._expire(self._clock())
            return len(self._vaults)

    def _expire(self, now: float) -> None:
        while self._vaults:
            _, (_, _, used) = next(iter(self._vaults.items()))
            if now - used < self.ttl:
                return
            self._pop_oldest(evicted=False)

    def _pop_oldest(self, *, evicted: bool) -> None:
        oldest = next(iter(self._vaults))
        self._forget(oldest)
        if evicted:
            self.evicted += 1
            self._evicted[oldest] = None
            while len(self._evicted) > EVICTED_MEMORY:
                self._evicted.popitem(last=False)

    def _forget(self, conversation_id: str) -> None:
        self._vaults.pop(conversation_id, None)
        self.nbytes -= self._known.pop(conversation_id, 0)


class GuardService:
    """``scan`` / ``mask`` / ``unmask`` with per-conversation vaults. Results are plain
    dicts (the HTTP shape); values are never returned by ``scan`` unless asked. ``owner``
    identifies the caller (the HTTP layer passes a digest of its API key; "" when keyless)."""

    def __init__(self, guard: Guard | None = None, sessions: VaultSessions | None = None
                 ) -> None:
        self.guard = guard or Guard()
        self.sessions = sessions if sessions is not None else VaultSessions()

    def scan(self, text: str, *, show_values: bool = False) -> dict:
        rows = []
        for f in self.guard.scan(text):
            row = {**f.to_dict(), "action": self.guard.policy.action(f.entity)}
            if show_values:
                row["value"] = f.value(text)
            rows.append(row)
        return {"findings": rows, "count": len(rows)}

    def mask(self, text: str, *, conversation_id: str | None = None, owner: str = "") -> dict:
        """Mask ``text`` into the caller's conversation (a new one, with a server-generated
        id, when ``conversation_id`` is None; an id the caller does not own is unknown)."""
        if conversation_id is None:
            vault = self.sessions.create(owner)
        else:
            vault = self.sessions.get(conversation_id, create=False, owner=owner)
        try:
            p = self.guard.protect(text, vault, where="http")
        finally:
            self.sessions.account(vault)
        return {"text": p.text, "conversation_id": vault.id,
                "findings": [f.to_dict() for f in p.findings], "keep_local": list(p.keep_local)}

    def unmask(self, text: str, *, conversation_id: str, owner: str = "") -> dict:
        vault = self.sessions.get(conversation_id, create=False, owner=owner)
        return {"text": vault.unmask(text), "conversation_id": vault.id}

    def forget(self, conversation_id: str, *, owner: str = "") -> dict:
        return {"conversation_id": conversation_id,
                "deleted": self.sessions.drop(conversation_id, owner)}
