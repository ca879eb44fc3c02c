"""The router with the real default model as the local engine: its token log-probabilities
drive the decision, and an escalation cancels the local attempt and masks what is sent."""

from __future__ import annotations

import json
import time

import pytest

from helpers.upstream import Upstream
from slmkit.core.types import GREEDY, ChatMessage, GenerateRequest, collect
from slmkit.guard import Guard
from slmkit.route import RouteConfig, RoutedEngine
from slmkit.runtime.remote import RemoteEngine

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def upstream():
    server = Upstream()
    yield server
    server.stop()


def question(text: str) -> GenerateRequest:
    return GenerateRequest(messages=[ChatMessage("system", "Answer briefly and factually."),
                                     ChatMessage("user", text)], max_tokens=8, sampling=GREEDY)


def router(engine, upstream, min_mean: float) -> RoutedEngine:
    remote = RemoteEngine(upstream.url, model="big-model", timeout=10)
    config = RouteConfig(min_mean_logprob=min_mean, min_token_logprob=-50, judge_tokens=6)
    return RoutedEngine(engine, remote, guard=Guard(), config=config, owns_engines=False)


def test_confident_local_answer_uses_real_logprobs(engine, upstream):
    upstream.reset()
    eng = router(engine, upstream, -50.0)
    out = collect(eng.generate(question("What is the capital of France?")))
    d = out.usage.decision
    assert d.route == "local" and d.signals["tokens"] == 6 and d.signals["mean_logprob"] < 0
    assert out.text and out.logprobs is None and out.usage.completion_tokens > 0
    assert upstream.recording.requests == []


def test_unconfident_answer_escalates_masked_and_frees_the_local_slot(engine, upstream):
    upstream.reset()
    text = "Write to jane.doe@corp.com about card 4111 1111 1111 1111."
    out = collect(router(engine, upstream, 0.0).generate(question(text)))
    assert out.usage.decision.route == "remote" and out.finish_reason == "length"
    assert out.text == "You said: Write to jane.doe@corp.com abo"  # 8 pieces, unmasked
    sent = json.dumps(upstream.recording.requests[0]["body"])
    assert "jane.doe@corp.com" not in sent and "4111" not in sent
    deadline = time.time() + 5  # a cancelled sequence leaves its slot at the next step
    while engine.stats()["busy"] and time.time() < deadline:
        time.sleep(0.02)
    assert engine.stats()["busy"] == 0
