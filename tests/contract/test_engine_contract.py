"""The ``core.Engine`` contract, checked the same way on every engine the project ships.

One suite, parametrized over every backend and wrapper (see ``conftest.CASES``): the fake,
torch, ONNX and llama.cpp on tiny random models, llama.cpp on the real default model
(integration), a remote engine against ``create_app`` over loopback, and the RAG and routed
wrappers. Each test is one clause of the contract in ``slmkit/core/engine.py``.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from slmkit.core.engine import Capabilities, ChunkStream, Engine
from slmkit.core.errors import (
    ContextOverflowError,
    EngineClosedError,
    UnsupportedOperationError,
)
from slmkit.core.types import (
    FINISH_REASONS,
    GREEDY,
    ChatMessage,
    Chunk,
    GenerateRequest,
    RouteDecision,
    SamplingParams,
    Usage,
    collect,
)

TEXT = "Paris is the capital of France."


def ask(text: str = "Tell me about rivers.", **kw) -> GenerateRequest:
    kw.setdefault("sampling", GREEDY)
    kw.setdefault("max_tokens", 16)
    return GenerateRequest(messages=[ChatMessage("user", text)], **kw)


def test_is_an_engine_with_info(engine):
    assert isinstance(engine, Engine)
    info = engine.info
    assert info.name and info.n_ctx >= 0
    assert isinstance(info.capabilities, Capabilities)
    assert info.capabilities.generate and info.capabilities.max_sequences >= 1


def test_generate_streams_chunks_and_exactly_one_last_chunk_finishes(engine):
    chunks = list(engine.generate(ask(max_tokens=8)))
    assert chunks and all(isinstance(c, Chunk) for c in chunks)
    finals = [c for c in chunks if c.finish_reason is not None]
    assert finals == [chunks[-1]], [c.finish_reason for c in chunks]
    assert chunks[-1].finish_reason in FINISH_REASONS
    assert all(c.usage is None for c in chunks[:-1])
    usage = chunks[-1].usage
    assert isinstance(usage, Usage)
    assert usage.prompt_tokens > 0 and 0 < usage.completion_tokens <= 8
    ids = sum(len(c.token_ids) for c in chunks)
    if ids:  # engines that report token ids report every generated one
        assert ids == usage.completion_tokens


@pytest.mark.parametrize("n", [0, 1, 3])
def test_max_tokens_is_respected(engine, case, n):
    whole = collect(engine.generate(ask(max_tokens=24)))
    cut = collect(engine.generate(ask(max_tokens=n)))
    assert cut.usage.completion_tokens <= n
    if whole.usage.completion_tokens > n:  # it had more to say: cut by the limit
        assert cut.finish_reason == "length"
        assert cut.usage.completion_tokens == n
        assert case.strip(whole.text).startswith(case.strip(cut.text))  # greedy: a prefix
    if n == 0:
        assert case.strip(cut.text) == ""


def test_stop_strings_end_the_answer_and_are_never_in_it(engine, case):
    text = case.strip(collect(engine.generate(ask(max_tokens=16))).text)
    stop = _pick_stop(text)
    cut = collect(engine.generate(ask(max_tokens=16, stop=[stop])))
    assert cut.finish_reason == "stop"
    assert case.strip(cut.text) == text[:text.index(stop)]
    assert stop not in cut.text


def _pick_stop(text: str) -> str:
    """Three characters from the middle of ``text`` that are not all whitespace."""
    for start in range(max(1, len(text) // 3), len(text) - 2):
        stop = text[start:start + 3]
        if stop.strip():
            return stop
    raise AssertionError(f"the greedy answer is too short to pick a stop string: {text!r}")


BAD = {
    "two prompts": dict(prompt="x", messages=[ChatMessage("user", "x")]),
    "no prompt": dict(),
    "negative max_tokens": dict(prompt="x", max_tokens=-1),
    "logprobs over 20": dict(prompt="x", logprobs=21),
    "empty stop": dict(prompt="x", stop=("",)),
    "top_p 0": dict(prompt="x", sampling=SamplingParams(top_p=0.0)),
    "grammar and schema": dict(prompt="x", grammar="root ::= \"a\"", json_schema={}),
    "timeout 0": dict(prompt="x", timeout=0),
}


@pytest.mark.parametrize("what", list(BAD))
def test_bad_requests_raise_value_error_before_any_chunk(engine, what):
    with pytest.raises(ValueError):
        engine.generate(GenerateRequest(**BAD[what]))  # at the call, not on iteration
    assert collect(engine.generate(ask(max_tokens=2))).finish_reason is not None


def test_prompt_over_the_context_raises_unless_truncate(engine, case):
    words = case.overflow_words or engine.info.n_ctx + 64
    long = "river " * words
    with pytest.raises(ContextOverflowError) as err:
        engine.generate(ask(long, max_tokens=4))
    assert err.value.n_ctx > 0 and err.value.n_prompt > err.value.n_ctx - 64
    if not case.truncates:
        with pytest.raises(ContextOverflowError):
            engine.generate(ask(long, max_tokens=4, truncate=True))
        return
    kept = collect(engine.generate(ask(long, max_tokens=4, truncate=True)))
    assert kept.finish_reason is not None and kept.usage.completion_tokens <= 4
    n_ctx = engine.info.n_ctx or err.value.n_ctx
    assert 0 < kept.usage.prompt_tokens <= n_ctx


def test_closing_a_stream_early_cancels_it_and_the_engine_keeps_serving(engine):
    stream = engine.generate(ask(max_tokens=64))
    assert isinstance(stream, ChunkStream), "generate must return a core.ChunkStream"
    first = next(stream)
    assert isinstance(first, Chunk) and first.finish_reason is None
    stream.close()
    stream.close()  # idempotent
    assert list(stream) == []  # nothing after a close, not even a final chunk
    after = collect(engine.generate(ask(max_tokens=4)))
    assert after.finish_reason is not None and after.usage.completion_tokens > 0


def test_tokenize_and_detokenize_round_trip(engine, case):
    if not case.tokenizes:
        with pytest.raises(NotImplementedError):
            engine.tokenize(TEXT)
        with pytest.raises(NotImplementedError):
            engine.detokenize([1, 2, 3])
        return
    ids = engine.tokenize(TEXT, add_special=False)
    assert ids and all(isinstance(t, int) for t in ids)
    assert engine.detokenize(ids) == TEXT
    with_special = engine.tokenize(TEXT)
    assert with_special[len(with_special) - len(ids):] == ids  # at most a BOS in front


def test_token_logprobs_score_every_next_token(engine, case):
    if not case.scores:
        with pytest.raises(NotImplementedError):
            engine.token_logprobs([1, 2, 3])
        return
    ids = engine.tokenize(TEXT)
    scored = engine.token_logprobs(ids)
    assert len(scored) == len(ids) - 1
    assert [lp.token for lp in scored] == ids[1:]
    assert all(math.isfinite(lp.logprob) and lp.logprob <= 1e-6 for lp in scored)
    top = engine.token_logprobs(ids, top=3)
    for plain, lp in zip(scored, top, strict=True):
        assert lp.logprob == pytest.approx(plain.logprob, abs=1e-3)
        alts = [a.logprob for a in lp.top]
        assert len(alts) == 3 and alts == sorted(alts, reverse=True)
        assert all(a <= 1e-6 for a in alts) and lp.logprob <= alts[0] + 1e-3


def test_generation_logprobs_come_with_the_chunks(engine, case):
    if not engine.info.capabilities.logprobs:
        pytest.skip(f"{case.name} declares no log-probabilities")
    out = collect(engine.generate(ask(max_tokens=6, logprobs=2)))
    assert out.logprobs is not None and len(out.logprobs) == out.usage.completion_tokens
    for lp in out.logprobs:
        assert math.isfinite(lp.logprob) and lp.logprob <= 1e-6
        assert len(lp.top) == 2 and all(a.logprob <= 1e-6 for a in lp.top)


def test_embed_follows_the_capabilities(engine):
    if not engine.info.capabilities.embed:
        with pytest.raises(NotImplementedError):
            engine.embed(["a river"])
        return
    vectors = engine.embed(["a river", "the sea and the mountains"])
    assert len(vectors) == 2 and len(vectors[0]) == len(vectors[1]) > 0
    assert all(isinstance(v, float) and math.isfinite(v) for vec in vectors for v in vec)


def test_render_chat_contains_the_messages(engine):
    messages = [ChatMessage("system", "Be brief."), ChatMessage("user", "Hello from the suite")]
    for gen_prompt in (True, False):
        out = engine.render_chat(messages, add_generation_prompt=gen_prompt)
        assert isinstance(out, str) and "Be brief." in out and "Hello from the suite" in out


def test_close_is_idempotent_and_final(case):
    eng = case.open()
    assert collect(eng.generate(ask(max_tokens=2))).finish_reason is not None
    eng.close()
    eng.close()
    with pytest.raises(EngineClosedError):
        eng.generate(ask(max_tokens=2))


def test_prompt_tokens_are_what_generate_counts(engine, case):
    request = ask(max_tokens=2)
    if not case.tokenizes:
        with pytest.raises(NotImplementedError):
            engine.prompt_tokens(request)
        return
    ids = engine.prompt_tokens(request)
    assert ids and all(isinstance(t, int) for t in ids)
    assert collect(engine.generate(request)).usage.prompt_tokens == len(ids)
    if case.rebuilds_prompt:  # sources and instructions around the question
        assert len(ids) > len(engine.inner.prompt_tokens(request))
        return
    assert engine.prompt_tokens(GenerateRequest(prompt_tokens=ids)) == ids
    assert engine.prompt_tokens(GenerateRequest(prompt=TEXT)) == engine.tokenize(TEXT)


def test_logits_follow_the_capabilities(engine, case):
    if not engine.info.capabilities.logits:
        with pytest.raises(UnsupportedOperationError, match="logits"):
            engine.logits([1, 2, 3])
        return
    ids = engine.tokenize(TEXT)
    rows = engine.logits(ids, first=1)
    assert rows.shape == (len(ids) - 1, engine.info.n_vocab)
    # the same distributions token_logprobs scores: row j predicts ids[j + 2]
    logp = rows[:-1] - np.log(np.exp(rows[:-1].astype(np.float64)).sum(-1, keepdims=True))
    scored = engine.token_logprobs(ids)[1:]
    assert [lp.logprob for lp in scored] == pytest.approx(
        [logp[j, ids[j + 2]] for j in range(len(scored))], abs=1e-3)


def test_adapters_follow_the_capabilities(engine):
    if engine.info.capabilities.adapters:
        with pytest.raises(Exception, match="no adapter 'not-loaded'"):
            engine.with_adapter("not-loaded")
        return
    with pytest.raises(UnsupportedOperationError, match="adapters"):
        engine.with_adapter("not-loaded")


SCHEMA = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"],
          "additionalProperties": False}


def test_json_schema_follows_the_grammar_capability(engine, case):
    request = ask("Answer in JSON.", max_tokens=24, json_schema=SCHEMA)
    if not engine.info.capabilities.grammar and not case.forwards_schema:
        with pytest.raises(UnsupportedOperationError):
            engine.generate(request)
        return
    out = collect(engine.generate(request))
    assert out.finish_reason == "stop", out  # the grammar ends the object
    assert set(json.loads(out.text)) == {"ok"}


def test_the_routing_decision_is_a_typed_usage_field(engine, case):
    usage = collect(engine.generate(ask(max_tokens=2))).usage
    if case.routes:
        assert isinstance(usage.decision, RouteDecision)
        assert usage.decision.route in ("local", "remote", "fallback") and usage.decision.reason
    else:
        assert usage.decision is None


def test_threads_and_scheduler_stats_are_typed_parts_of_the_contract(engine, case):
    remote = case.name.startswith("remote")
    assert engine.n_threads == (0 if remote else 1)  # every local case is opened with 1
    stats = engine.stats()
    assert isinstance(stats, dict)
    if case.name.startswith("llamacpp"):  # a scheduler of its own, idle right now
        slots = engine.info.capabilities.max_sequences
        assert stats == {"slots": slots, "busy": 0, "waiting": 0}
    else:  # one request at a time, the upstream's queue, or a fake: the server counts
        assert stats == {}


def test_every_call_after_close_raises_engine_closed(case):
    eng = case.open()
    eng.close()
    calls = {"generate": lambda: eng.generate(ask(max_tokens=2)),
             "render_chat": lambda: eng.render_chat([ChatMessage("user", "hi")])}
    if case.tokenizes:
        calls.update(tokenize=lambda: eng.tokenize(TEXT),
                     detokenize=lambda: eng.detokenize([1, 2]),
                     prompt_tokens=lambda: eng.prompt_tokens(ask()))
    if case.scores:
        calls["token_logprobs"] = lambda: eng.token_logprobs([1, 2, 3])
    if eng.info.capabilities.embed:
        calls["embed"] = lambda: eng.embed(["a river"])
    failed = []
    for name, call in calls.items():
        try:
            call()
        except EngineClosedError:
            continue
        except Exception as err:  # noqa: BLE001 - reported below
            failed.append(f"{name}: {type(err).__name__}: {err}")
        else:
            failed.append(f"{name}: no error")
    assert not failed, failed
