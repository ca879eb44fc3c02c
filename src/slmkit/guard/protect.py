"""The guard as one object: scan → apply the policy → mask into a vault → audit; and the
way back (unmask, also for streams)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from slmkit.core.types import ChatMessage
from slmkit.guard.audit import AuditLog
from slmkit.guard.base import PERSON, Finding
from slmkit.guard.policy import ALLOW, BLOCK, KEEP_LOCAL, BlockedEntityError, Policy
from slmkit.guard.scanner import Scanner, default_scanner
from slmkit.guard.vault import StreamUnmasker, Vault

_NAME_UNSAFE = re.compile(r"[<>]")  # a placeholder's brackets, dropped from a masked name


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
        """Mask every message, its ``name`` included; returns the masked messages and the
        keep-local types. All texts are checked for blocked types before any is masked.

        A ``name`` on a system/user/assistant message names a participant, so all of it is
        a PERSON value; a tool's name is scanned like text. A masked name is sent as its
        placeholder without the angle brackets (``PERSON_1``), so it stays a valid
        OpenAI name (``[A-Za-z0-9_-]``)."""
        scanned = []
        for i, m in enumerate(messages):
            scanned.append((f"messages[{i}]", m.content, self.scanner.scan(m.content)))
            if m.name:
                scanned.append((f"messages[{i}].name", m.name, self._name_findings(m)))
        self._check_blocked(scanned, vault)
        out, local, parts = [], set(), iter(scanned)
        for message in messages:
            where, text, findings = next(parts)
            p = self._mask(text, findings, vault, where)
            local.update(p.keep_local)
            name = message.name
            if name:
                where, text, findings = next(parts)
                named = self._mask(text, findings, vault, where)
                local.update(named.keep_local)
                name = _NAME_UNSAFE.sub("", named.text) if named.text != text else text
            out.append(ChatMessage(message.role, p.text, name))
        return out, tuple(sorted(local))

    def _name_findings(self, message: ChatMessage) -> list[Finding]:
        name = message.name or ""
        if message.role == "tool":
            return self.scanner.scan(name)
        return [Finding(PERSON, 0, len(name), 1.0, "message_name")]

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
