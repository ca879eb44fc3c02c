"""Policy enforcement (mask, block, keep_local, allow) and the audit log."""

from __future__ import annotations

import json

import pytest

from slmkit.core.types import ChatMessage
from slmkit.guard import AuditLog, BlockedEntityError, Guard, Policy, Vault

RRN = "900101-1234568"


def test_block_names_the_type_never_the_value():
    guard = Guard(Policy.parse("KR_RRN=block"))
    with pytest.raises(BlockedEntityError) as err:
        guard.protect(f"주민등록번호 {RRN}", Vault())
    assert err.value.entities == ("KR_RRN",)
    assert "KR_RRN" in str(err.value) and RRN not in str(err.value)
    assert err.value.to_dict()["error"] == "guard_blocked"


def test_blocked_message_stops_every_message_before_masking():
    guard, vault = Guard(Policy.parse("KR_RRN=block")), Vault()
    msgs = [ChatMessage("user", "mail jane@corp.com"), ChatMessage("user", f"RRN {RRN}")]
    with pytest.raises(BlockedEntityError, match=r"messages\[1\]"):
        guard.protect_messages(msgs, vault)
    assert len(vault) == 0


def test_keep_local_is_reported_and_still_masked():
    guard = Guard(Policy.parse("PERSON=keep_local"))
    p = guard.protect("Dr. Jane Smith, jane@corp.com", Vault())
    assert p.keep_local == ("PERSON",) and p.text == "Dr. <PERSON_1>, <EMAIL_1>"


def test_allow_leaves_the_value():
    p = Guard(Policy.parse("IP_ADDRESS=allow")).protect("from 203.0.113.9 jane@corp.com", Vault())
    assert p.text == "from 203.0.113.9 <EMAIL_1>"


def test_policy_parse_and_errors():
    p = Policy.parse("kr_rrn=block, default=keep_local")
    assert p.action("KR_RRN") == "block" and p.action("EMAIL") == "keep_local"
    assert p.action("LITERAL") == "mask"
    with pytest.raises(ValueError, match="unknown guard action"):
        Policy.parse("EMAIL=shred")
    with pytest.raises(ValueError, match="unknown entity type"):
        Policy.parse("SHOE=mask")
    with pytest.raises(ValueError, match="TYPE=ACTION"):
        Policy.parse("EMAIL")


def test_messages_keep_roles_and_names():
    out, local = Guard().protect_messages(
        [ChatMessage("system", "be brief"), ChatMessage("tool", '{"to": "a@b.io"}', name="mail")],
        Vault())
    assert [m.role for m in out] == ["system", "tool"] and out[1].name == "mail"
    assert out[1].content == '{"to": "<EMAIL_1>"}' and local == ()


def test_audit_log_has_types_offsets_hashes_and_no_values(tmp_path):
    path = tmp_path / "audit.jsonl"
    audit = AuditLog(path, key=b"k")
    guard = Guard(Policy.parse("KR_RRN=block"), audit=audit)
    vault = Vault("c1")
    guard.protect("mail jane@corp.com or jane@corp.com", vault, where="ticket")
    with pytest.raises(BlockedEntityError):
        guard.protect(f"주민등록번호 {RRN}", vault)
    raw = path.read_text()
    assert "jane@corp.com" not in raw and RRN not in raw
    first, second = [json.loads(line) for line in raw.splitlines()]
    assert first["event"] == "mask" and first["where"] == "ticket" and first["conversation"] == "c1"
    a, b = first["findings"]
    assert (a["entity"], a["start"], a["end"]) == ("EMAIL", 5, 18)
    assert a["hash"] == b["hash"] == audit.digest("jane@corp.com") and len(a["hash"]) == 16
    assert second["event"] == "block" and second["findings"][0]["action"] == "block"
    assert AuditLog(key=b"other").digest("jane@corp.com") != a["hash"]
