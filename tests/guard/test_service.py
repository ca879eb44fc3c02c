"""GuardService and its per-conversation vaults: bounded, expiring, thread-safe."""

from __future__ import annotations

import threading

import pytest

from slmkit.guard import Guard, Policy
from slmkit.guard.policy import BlockedEntityError
from slmkit.guard.service import GuardService, UnknownConversationError, VaultSessions


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_vaults_expire_after_their_ttl_and_the_oldest_go_first():
    clock = Clock()
    s = VaultSessions(max_vaults=2, ttl=10, clock=clock)
    a = s.get("a", create=True)
    s.get("b", create=True)
    assert s.get("a", create=False) is a  # touching "a" makes "b" the oldest
    s.get("c", create=True)
    with pytest.raises(UnknownConversationError):
        s.get("b", create=False)
    clock.now = 11
    assert len(s) == 0
    with pytest.raises(UnknownConversationError, match="'a'"):
        s.get("a", create=False)
    with pytest.raises(ValueError):
        VaultSessions(max_vaults=0)


def test_mask_unmask_round_trip_and_policy():
    svc = GuardService(Guard(Policy.parse("CREDIT_CARD=block")))
    text = "write to ann@corp.example from 192.168.0.7"
    m = svc.mask(text)
    assert "ann@corp.example" not in m["text"] and m["conversation_id"]
    assert svc.unmask(m["text"], conversation_id=m["conversation_id"])["text"] == text
    with pytest.raises(BlockedEntityError):
        svc.mask("card 4111 1111 1111 1111")
    assert svc.scan(text, show_values=True)["findings"][0]["value"] == "ann@corp.example"
    assert svc.forget(m["conversation_id"])["deleted"] is True


def test_concurrent_masking_in_one_conversation_is_consistent():
    svc = GuardService()
    cid = svc.mask("start")["conversation_id"]
    out: list[str] = []

    def work(i: int) -> None:
        out.append(svc.mask(f"user{i % 5}@corp.example", conversation_id=cid)["text"])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(out)) == 5  # five addresses, five placeholders, however interleaved


# ---- issue 13: vaults are bound to their caller, ids are the server's, memory is capped --
def test_conversation_ids_are_generated_by_the_server_never_chosen_by_the_client():
    svc = GuardService()
    cid = svc.mask("mail ann@corp.example")["conversation_id"]
    assert len(cid) >= 22  # 128 random bits or more: the id is a capability
    with pytest.raises(UnknownConversationError):
        svc.mask("mail bob@corp.example", conversation_id="my-own-id")
    assert len(svc.sessions) == 1


def test_a_vault_answers_only_its_owner():
    svc = GuardService()
    m = svc.mask("mail ann@corp.example", owner="key-a")
    cid = m["conversation_id"]
    for call in (lambda: svc.unmask(m["text"], conversation_id=cid, owner="key-b"),
                 lambda: svc.unmask(m["text"], conversation_id=cid),
                 lambda: svc.mask("more", conversation_id=cid, owner="key-b")):
        with pytest.raises(UnknownConversationError):  # 404, as if it did not exist
            call()
    assert svc.forget(cid, owner="key-b")["deleted"] is False
    assert svc.unmask(m["text"], conversation_id=cid, owner="key-a")["text"] == \
        "mail ann@corp.example"


def test_vault_memory_is_capped_per_vault_and_in_total():
    from slmkit.guard.service import VaultFullError

    sessions = VaultSessions(max_bytes=200_000, max_vault_bytes=100_000)
    svc = GuardService(sessions=sessions)
    big = " ".join(f"u{i}@corp.example" for i in range(10_000))  # ~170 KB of addresses
    with pytest.raises(VaultFullError, match="new conversation"):
        svc.mask(big)
    cids = [svc.mask(" ".join(f"u{i}.{j}@corp.example" for i in range(200)))["conversation_id"]
            for j in range(20)]
    assert sessions.nbytes <= 200_000
    assert sessions.evicted > 0
    with pytest.raises(UnknownConversationError, match="evicted"):
        svc.unmask("x", conversation_id=cids[0])
    assert svc.unmask("<EMAIL_1>", conversation_id=cids[-1])["text"] == "u0.19@corp.example"
