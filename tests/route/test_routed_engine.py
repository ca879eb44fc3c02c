"""RoutedEngine over a fake local engine and the real recording upstream: the decision
signals, masking and unmasking, budgets, guard policies, upstream failures, the ledger."""

from __future__ import annotations

import json

import pytest

from helpers.fake_engine import FakeLocal
from helpers.upstream import Fault, Upstream, closed_port_url
from slmkit.core.engine import Engine
from slmkit.core.types import ChatMessage, GenerateRequest, collect
from slmkit.guard import BlockedEntityError, Guard, Policy
from slmkit.route import Budget, PriceTable, RouteConfig, RoutedEngine
from slmkit.runtime.remote import RemoteEngine, RetryPolicy, UpstreamError

FAST = RetryPolicy(max_retries=1, backoff=0.01, max_backoff=0.02, max_retry_after=0.5)
PRICES = PriceTable.load(extra={"big-model": (5.0, 15.0)})


@pytest.fixture(scope="module")
def upstream():
    server = Upstream()
    yield server
    server.stop()


@pytest.fixture
def up(upstream):
    upstream.reset()
    return upstream


def routed(url: str, *, policy: str = "", timeout: float = 5.0, **kw) -> RoutedEngine:
    remote = RemoteEngine(url, model="big-model", retry=FAST, timeout=timeout,
                          connect_timeout=0.5)
    kw.setdefault("config", RouteConfig(judge_tokens=4))
    return RoutedEngine(FakeLocal(), remote, guard=Guard(Policy.parse(policy)), prices=PRICES, **kw)


def ask(text: str, **kw) -> GenerateRequest:
    return GenerateRequest(messages=[ChatMessage("user", text)], max_tokens=64, **kw)


def test_is_an_engine_and_confident_answers_stay_local(up):
    eng = routed(up.url)
    assert isinstance(eng, Engine) and eng.info.name == "auto"
    out = collect(eng.generate(ask("an easy one, jane@corp.com")))
    assert out.text == "local: an easy one, jane@corp.com "
    d = out.usage.decision
    assert d.route == "local" and d.reason.startswith("confident") and d.signals["tokens"] == 4
    assert out.logprobs is None and up.recording.requests == []
    (row,) = eng.ledger.entries()
    assert row.route == "local" and row.all_remote_cost > 0 and row.remote_cost == 0


def test_low_confidence_escalates_masked_and_unmasks_the_answer(up):
    eng = routed(up.url)
    text = "a hard one: mail jane@corp.com or call 010-1234-5678"
    stream = eng.generate(ask(text))
    assert stream.decision.route == "remote" and "low_confidence" in stream.decision.reason
    out = collect(stream)
    assert out.text == "You said: " + text
    sent = json.dumps(up.recording.requests[0]["body"])
    assert "jane@corp.com" not in sent and "010-1234-5678" not in sent
    assert "<EMAIL_1>" in sent and "<PHONE_1>" in sent
    assert eng.local.streams[0].closed  # the local attempt was cancelled
    (row,) = eng.ledger.entries()
    assert (row.route, row.masked, row.local_completion_tokens) == ("remote", 2, 4)
    assert row.remote_cost == row.all_remote_cost > 0
    assert out.usage.decision.to_dict()["masked"] == 2


def test_tags_force_a_route_and_are_not_sent(up):
    eng = routed(up.url, config=RouteConfig(judge_tokens=4, allow_remote_tag=True))
    local = collect(eng.generate(ask("hard but #route:local please")))
    assert local.usage.decision.route == "local"
    out = collect(eng.generate(ask("#route:remote easy question")))
    assert out.usage.decision.reason == "tag:remote" and out.text == "You said: easy question"
    assert eng.local.requests[-1].messages[0].content == "hard but please"
    assert "#route" not in json.dumps(up.recording.requests[0]["body"])
    assert collect(eng.generate(ask("hard"), route="local")).usage.decision.route == "local"


def test_prompt_too_long_for_local_escalates_without_a_local_attempt(up):
    eng = routed(up.url)
    out = collect(eng.generate(ask("word " * 600)))
    assert out.usage.decision.reason.startswith("prompt_too_long: 601 tokens")
    assert eng.local.requests == []


def test_budget_keeps_requests_local_once_spent(up):
    eng = routed(up.url, budget=Budget("day", max_requests=1))
    assert collect(eng.generate(ask("hard 1"))).usage.decision.route == "remote"
    out = collect(eng.generate(ask("hard 2")))
    d = out.usage.decision
    assert d.route == "local" and d.reason.startswith("budget_exhausted: requests 1/1 per day")
    assert out.text == "local: hard 2 " and len(up.recording.requests) == 1


def test_keep_local_and_block_policies(up):
    eng = routed(up.url, policy="PERSON=keep_local,KR_RRN=block")
    out = collect(eng.generate(ask("hard: Dr. Jane Smith asks")))
    assert out.usage.decision.reason.startswith("guard_keep_local: PERSON")
    assert out.text == "local: hard: Dr. Jane Smith asks "
    with pytest.raises(BlockedEntityError, match="KR_RRN") as err:
        eng.generate(ask("hard: 주민등록번호 900101-1234568"))
    assert "900101" not in str(err.value)
    assert up.recording.requests == [] and eng.ledger.entries()[-1].outcome == "blocked"
    # blocked only matters for what leaves: answered locally, it is fine
    assert collect(eng.generate(ask("easy 주민등록번호 900101-1234568"))).text.startswith("local")


@pytest.mark.parametrize("fault", ["503", "refused", "timeout"])
def test_upstream_failure_falls_back_to_a_local_answer(up, fault):
    url = closed_port_url() if fault == "refused" else up.url
    if fault == "503":
        up.inject(Fault(status=503), Fault(status=503))
    if fault == "timeout":
        up.inject(Fault(delay=2.0))
    eng = routed(url, timeout=0.3)
    out = collect(eng.generate(ask("hard question")))  # a 2 s answer would route remote
    d = out.usage.decision
    assert d.route == "fallback" and "upstream_error" in d.reason
    assert out.text == "local: hard question "
    assert eng.ledger.entries()[-1].route == "fallback"


def test_upstream_failure_raises_when_configured(up):
    up.inject(Fault(status=500, message="boom"))
    eng = routed(up.url, config=RouteConfig(judge_tokens=4, on_upstream_error="error"))
    with pytest.raises(UpstreamError, match="HTTP 500: boom"):
        eng.generate(ask("hard"))
    assert eng.ledger.entries()[-1].outcome == "error"


def test_mid_stream_upstream_failure_raises_instead_of_hanging(up):
    up.inject(Fault(stall_after=2, stall=3.0))
    eng = routed(up.url, timeout=0.3)
    stream = eng.generate(ask("hard and long enough"))
    with pytest.raises(UpstreamError, match="mid-answer"):
        list(stream)
    assert eng.ledger.entries()[-1].outcome == "error"


def test_logprobs_are_passed_when_asked_and_stream_can_be_closed(up):
    eng = routed(up.url)
    out = collect(eng.generate(ask("easy", logprobs=0)))
    assert out.logprobs and out.logprobs[0].logprob == pytest.approx(-0.1)
    remote = collect(eng.generate(ask("hard", logprobs=1)))
    assert remote.logprobs[0].logprob == -0.25
    stream = eng.generate(ask("hard question with many words in it"))
    next(stream)
    stream.close()
    assert eng.ledger.entries()[-1].outcome == "cancelled"


def test_prompt_requests_and_stop_strings_are_masked(up):
    eng = routed(up.url)
    req = GenerateRequest(prompt="hard: jane@corp.com", stop=["jane@corp.com"], max_tokens=64)
    out = collect(eng.generate(req, route="remote"))
    body = up.recording.requests[0]["body"]
    assert body["prompt"] == "hard: <EMAIL_1>" and body["stop"] == ["<EMAIL_1>"]
    assert out.text == "Completion of: hard: "


def test_decision_callback_and_delegation(up):
    seen = []
    eng = routed(up.url, on_decision=lambda rid, d: seen.append((rid, d.route)))
    req = ask("easy")
    collect(eng.generate(req))
    assert seen == [(req.id, "local")]
    assert eng.tokenize("a b") == eng.local.tokenize("a b") and eng.embed(["ab"]) == [[2.0]]
    eng.close()
    assert eng.local.closed


def test_concurrent_requests_keep_their_own_vaults(up):
    import threading

    eng = routed(up.url)
    results = {}

    def work(i: int) -> None:
        text = f"hard: mail user{i}@corp.com"
        results[i] = collect(eng.generate(ask(text))).text == "You said: " + text

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert results == {i: True for i in range(8)} and len(eng.ledger.entries()) == 8
    assert all("<EMAIL_1>" in json.dumps(r["body"]) for r in up.recording.requests)


def test_schema_masking_keeps_structure_and_blocks_by_policy():
    """Unit view of route.masking: keys and values masked consistently, numbers untouched,
    a blocked type in a schema stops the request before anything is sent."""
    from slmkit.guard import BlockedEntityError, Guard, Policy, Vault
    from slmkit.route.masking import mask_json

    guard, vault = Guard(), Vault()
    schema = {"type": "object", "properties": {"jane@corp.com": {"enum": ["jane@corp.com", 3]}},
              "required": ["jane@corp.com"], "maxProperties": 2}
    out, local = mask_json(schema, lambda t, w: guard.protect(t, vault, where=w))
    assert out == {"type": "object", "properties": {"<EMAIL_1>": {"enum": ["<EMAIL_1>", 3]}},
                   "required": ["<EMAIL_1>"], "maxProperties": 2} and local == set()
    strict = Guard(Policy.parse("EMAIL=block"))
    with pytest.raises(BlockedEntityError) as err:
        mask_json(schema, lambda t, w: strict.protect(t, Vault(), where=w))
    assert "jane@corp.com" not in str(err.value)


def test_message_names_are_masked_and_stay_valid_names():
    from slmkit.guard import Guard, Vault

    vault = Vault()
    msgs, _ = Guard().protect_messages(
        [ChatMessage("user", "hi", name="alice_kim"),
         ChatMessage("tool", "{}", name="lookup_jane@corp.com"),
         ChatMessage("tool", "{}", name="send_payment")], vault)
    assert [m.name for m in msgs] == ["PERSON_1", "EMAIL_1", "send_payment"]
    assert vault.unmask("<PERSON_1>") == "alice_kim"


def test_remote_tag_is_ignored_unless_the_server_allows_it(up):
    """Issue 13: any client could force a paid escalation with #route:remote."""
    eng = routed(up.url)
    out = collect(eng.generate(ask("#route:remote easy question")))
    d = out.usage.decision
    assert d.route == "local" and d.signals.get("tag") == "remote ignored"
    assert out.text == "local: easy question " and up.recording.requests == []
    assert eng.local.requests[-1].messages[0].content == "easy question"  # tag stripped
    assert collect(eng.generate(ask("#route:local hard one"))).usage.decision.route == "local"


def test_in_flight_escalations_count_against_the_budget(up):
    """Issue 13: concurrent requests all saw the budget unspent (the ledger records a
    request when it ends), so together they overshot it."""
    eng = routed(up.url, budget=Budget("day", max_requests=3))
    streams = [eng.generate(ask(f"hard {i}")) for i in range(5)]  # all in flight at once
    assert [s.decision.route for s in streams] == ["remote"] * 3 + ["local"] * 2
    assert "in flight" in streams[3].decision.reason
    for s in streams:
        collect(s)
    assert len(up.recording.requests) == 3
    assert collect(eng.generate(ask("hard 6"))).usage.decision.route == "local"


def test_in_flight_tokens_count_and_are_released_when_a_stream_ends(up):
    eng = routed(up.url, budget=Budget("day", max_tokens=120))
    first = eng.generate(ask("hard a"))  # reserves its prompt + max_tokens (64)
    second = eng.generate(ask("hard b"))
    third = eng.generate(ask("hard c"))
    assert [s.decision.route for s in (first, second, third)] == ["remote", "remote", "local"]
    for s in (first, second, third):
        collect(s)
    # what was actually spent is small, so with the reservations released it escalates again
    assert collect(eng.generate(ask("hard d"))).usage.decision.route == "remote"
