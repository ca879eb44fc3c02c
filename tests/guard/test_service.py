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
