"""The privacy guard: find personal data and secrets, pseudonymize them reversibly, and
enforce a per-type policy before text leaves the site. Standard library only (Presidio
is used for person names when it and a spaCy NER model are installed).

    guard = Guard(Policy.parse("KR_RRN=block"))
    vault = Vault()
    sent = guard.protect("mail jane@corp.com", vault).text   # "mail <EMAIL_1>"
    guard.unmask(answer_from_remote, vault)
"""

from slmkit.guard.audit import AuditLog
from slmkit.guard.base import ENTITIES, STRUCTURED, Finding, Recognizer
from slmkit.guard.policy import ACTIONS, BlockedEntityError, Policy
from slmkit.guard.protect import Guard, Protected
from slmkit.guard.scanner import Scanner, default_scanner, scan
from slmkit.guard.vault import PLACEHOLDER_RE, StreamUnmasker, Vault

__all__ = [
    "ACTIONS", "ENTITIES", "PLACEHOLDER_RE", "STRUCTURED", "AuditLog", "BlockedEntityError",
    "Finding", "Guard", "Policy", "Protected", "Recognizer", "Scanner", "StreamUnmasker",
    "Vault", "default_scanner", "scan",
]
