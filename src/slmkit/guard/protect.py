"""The guard as one object: scan → apply the policy → mask into a vault → audit; and the
way back (unmask, also for streams)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from slmkit.core.types import ChatMessage
from slmkit.guard.audit import AuditLog
from slmkit.guard.base import Finding
from slmkit.guard.policy import ALLOW, BLOCK, KEEP_LOCAL, BlockedEntityError, Policy
from slmkit.guard.scanner import Scanner, default_scanner
from slmkit.guard.vault import StreamUnmasker, Vault


@dataclass(frozen=True)
class Protected:
    """Masked text, what was found, and the types that must not leave the site."""

    text: str
    findings: tuple[Finding, ...]
    keep_local: tuple[str, ...] = ()

    @property
    def entities(self) -> tuple[str, ...]:
        return tuple(sorted({f.entity for f in self.findings}))


class Guard:
    """Scanner + policy + audit log. Thread-safe; share one per process."""

    def __init__(self, policy: Policy | None = None, *, scanner: Scanner | None = None,
                 audit: AuditLog | None = None) -> None:
        self.policy = policy or Policy()
        self.scanner = scanner or default_scanner()
        self.audit = audit

    def scan(self, text: str) -> list[Finding]:
        """Findings in ``text`` (no policy applied, nothing logged)."""
        return self.scanner.scan(text)

    def protect(self, text: str, vault: Vault, *, where: str = "text") -> Protected:
        """Mask ``text`` for sending. Raises :class:`BlockedEntityError` (naming the types,
        never the values) when the policy blocks something found."""
        findings = self.scanner.scan(text)
        self._check_blocked([(where, text, findings)], vault)
        return self._mask(text, findings, vault, where)

    def protect_messages(self, messages: Sequence[ChatMessage], vault: Vault
                         ) -> tuple[list[ChatMessage], tuple[str, ...]]:
        """Mask every message; returns the masked messages and the keep-local types. All
        messages are checked for blocked types before any is masked."""
        scanned = [(f"messages[{i}]", m.content, self.scanner.scan(m.content))
                   for i, m in enumerate(messages)]
        self._check_blocked(scanned, vault)
        out, local = [], set()
        for message, (where, text, findings) in zip(messages, scanned):
            p = self._mask(text, findings, vault, where)
            local.update(p.keep_local)
            out.append(ChatMessage(message.role, p.text, message.name))
        return out, tuple(sorted(local))

    def new_vault(self, conversation_id: str | None = None) -> Vault:
        """A fresh vault for one conversation."""
        return Vault(conversation_id)

    def stream_unmasker(self, vault: Vault) -> StreamUnmasker:
        """An incremental unmasker (``push(text) -> text``, ``flush() -> text``)."""
        return StreamUnmasker(vault)

    def unmask(self, text: str, vault: Vault) -> str:
        """Put the vault's values back into a (remote) answer."""
        return vault.unmask(text)

    def unmask_stream(self, pieces: Iterable[str], vault: Vault) -> Iterator[str]:
        """Unmask streamed text; placeholders split across pieces are handled."""
        return vault.unmask_stream(pieces)

    # ---- internals -----------------------------------------------------------------------
    def _actions(self, findings: Iterable[Finding]) -> dict[str, str]:
        return {f.entity: self.policy.action(f.entity) for f in findings}

    def _check_blocked(self, scanned: list[tuple[str, str, list[Finding]]], vault: Vault) -> None:
        for where, text, findings in scanned:
            actions = self._actions(findings)
            blocked = [e for e, a in actions.items() if a == BLOCK]
            if blocked:
                if self.audit:
                    self.audit.record("block", text, findings, actions=actions, where=where,
                                      conversation=vault.id)
                raise BlockedEntityError(blocked, where=where)

    def _mask(self, text: str, findings: list[Finding], vault: Vault, where: str) -> Protected:
        actions = self._actions(findings)
        masked_findings = [f for f in findings if actions[f.entity] != ALLOW]
        local = tuple(sorted({e for e, a in actions.items() if a == KEEP_LOCAL}))
        if self.audit and findings:
            self.audit.record("keep_local" if local else "mask", text, findings,
                              actions=actions, where=where, conversation=vault.id)
        return Protected(vault.mask(text, masked_findings), tuple(findings), local)
