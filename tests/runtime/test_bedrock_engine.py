"""The Bedrock engine against a local fake speaking Bedrock's real wire format (Converse
JSON; ConverseStream event-stream frames), reached by boto3 with ``endpoint_url`` and
made-up credentials: answers, tool calls both ways, stop reasons, usage and ledger cost,
throttling (retried, then a clear error), a bad model id, and no credential ever shown."""

from __future__ import annotations

import binascii
import json
import logging
import random

import pytest

pytest.importorskip("boto3")

from helpers.fake_aws import (  # noqa: E402
    DUMMY_KEY_ID,
    DUMMY_SECRET,
    INVALID_MODEL,
    FakeAws,
    Fault,
    dummy_session,
    encode_message,
)
from slmkit.core.errors import UnsupportedOperationError  # noqa: E402
from slmkit.core.types import (  # noqa: E402
    ChatMessage,
    GenerateRequest,
    SamplingParams,
    ToolCall,
    collect,
)
from slmkit.runtime.awsclient import AwsError, AwsRetry  # noqa: E402
from slmkit.runtime.bedrock import BedrockEngine  # noqa: E402

MODEL = "anthropic.claude-3-5-haiku-20241022-v1:0"
WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"},
                                                    "unit": {"type": "string"}}}}}


@pytest.fixture(scope="module")
def fake():
    server = FakeAws()
    yield server
    server.stop()


@pytest.fixture
def bedrock(fake):
    fake.reset()
    engines = []

    def make(model: str = MODEL, **kw) -> BedrockEngine:
        kw.setdefault("retry", AwsRetry(max_retries=3, backoff=0.01))
        eng = BedrockEngine(model, session=dummy_session(), endpoint_url=fake.url, **kw)
        engines.append(eng)
        return eng

    yield make
    for eng in engines:
        eng.close()


def chat(*turns: ChatMessage, **kw) -> GenerateRequest:
    kw.setdefault("max_tokens", 64)
    return GenerateRequest(messages=list(turns), **kw)


def test_event_stream_frames_decode_with_botocore_and_crcs_are_checked():
    from botocore.eventstream import ChecksumMismatch, EventStreamBuffer

    frame = encode_message({":event-type": "contentBlockDelta", ":message-type": "event"},
                           b'{"delta":{"text":"hi"}}')
    buf = EventStreamBuffer()
    buf.add_data(frame[:5])  # a frame may arrive in pieces
    assert list(buf) == []
    buf.add_data(frame[5:])
    (msg,) = list(buf)
    assert msg.headers[":event-type"] == "contentBlockDelta"
    assert json.loads(msg.payload) == {"delta": {"text": "hi"}}
    assert msg.crc == binascii.crc32(frame[:-4]) & 0xFFFFFFFF
    broken = bytearray(frame)
    broken[-6] ^= 0xFF
    bad = EventStreamBuffer()
    bad.add_data(bytes(broken))
    with pytest.raises(ChecksumMismatch):
        list(bad)


@pytest.mark.parametrize("streaming", [True, False])
def test_an_answer_streams_with_system_inference_config_usage_and_stop_reason(
        bedrock, fake, streaming):
    eng = bedrock(streaming=streaming)
    stream = eng.generate(chat(ChatMessage("system", "Be brief."),
                               ChatMessage("user", "hello there, Bedrock"),
                               sampling=SamplingParams(temperature=0.2, top_p=0.5),
                               stop=("ZZZ",)))
    chunks = list(stream)
    out = collect(chunks)
    assert out.text == "You said: hello there, Bedrock"
    assert out.finish_reason == "stop"
    assert len(chunks) > (2 if streaming else 1)  # streamed in pieces, not one block
    assert out.usage.completion_tokens == 8 and out.usage.prompt_tokens > 0
    (req,) = fake.recording.requests
    assert req["path"].endswith("/converse-stream" if streaming else "/converse")
    assert "%3A0" in req["path"]  # the model id, URL-encoded by botocore
    body = req["body"]
    assert body["system"] == [{"text": "Be brief."}]
    assert body["messages"] == [{"role": "user", "content": [{"text": "hello there, Bedrock"}]}]
    assert body["inferenceConfig"] == {"temperature": 0.2, "topP": 0.5, "maxTokens": 64,
                                       "stopSequences": ["ZZZ"]}
    assert req["headers"]["authorization"].startswith("AWS4-HMAC-SHA256 Credential=" + DUMMY_KEY_ID)


def test_stop_reasons_map_to_finish_reasons(bedrock):
    eng = bedrock()
    short = collect(eng.generate(chat(ChatMessage("user", "a long enough message"),
                                      max_tokens=2)))
    assert (short.text, short.finish_reason) == ("You said", "length")
    stopped = collect(eng.generate(chat(ChatMessage("user", "one STOP two"),
                                        stop=("STOP",))))
    assert (stopped.text, stopped.finish_reason) == ("You said: one ", "stop")
    from slmkit.runtime.bedrock.wire import finish_reason

    assert [finish_reason(r) for r in ("end_turn", "tool_use", "max_tokens",
                                       "model_context_window_exceeded", "malformed_tool_use",
                                       "content_filtered")] == \
        ["stop", "stop", "length", "length", "error", "stop"]


@pytest.mark.parametrize("streaming", [True, False])
def test_tool_use_round_trip(bedrock, fake, streaming):
    from slmkit.serve import tools as toolkit

    eng = bedrock(streaming=streaming)
    ask = ChatMessage("user", "what is the weather in Seoul?")
    first = collect(eng.generate(chat(ask, tools=[WEATHER])))
    spec = toolkit.ToolSpec("get_weather", "", WEATHER["function"]["parameters"])
    content, calls = toolkit.parse(first.text, toolkit.plan([spec], None))
    assert content is None and calls == [{"name": "get_weather",
                                          "arguments": {"city": "Seoul", "unit": "c"}}]
    sent = fake.recording.requests[-1]["body"]["toolConfig"]
    assert sent == {"tools": [{"toolSpec": {
        "name": "get_weather", "description": "Weather in a city",
        "inputSchema": {"json": WEATHER["function"]["parameters"]}}}]}
    # the client answers the call; our turns go back as toolUse / toolResult blocks
    call = ToolCall("get_weather", calls[0]["arguments"], "call.abc:1")
    second = collect(eng.generate(chat(
        ask, ChatMessage("assistant", "", tool_calls=(call,)),
        ChatMessage("tool", "18 C and sunny", name="get_weather", tool_call_id="call.abc:1"),
        tools=[WEATHER])))
    assert second.text == "Tool said: 18 C and sunny"
    msgs = fake.recording.requests[-1]["body"]["messages"]
    assert [m["role"] for m in msgs] == ["user", "assistant", "user"]
    use = msgs[1]["content"][0]["toolUse"]
    result = msgs[2]["content"][0]["toolResult"]
    assert use == {"toolUseId": "call_abc_1", "name": "get_weather",
                   "input": {"city": "Seoul", "unit": "c"}}
    assert result["toolUseId"] == use["toolUseId"]
    assert result["content"] == [{"text": "18 C and sunny"}]


def test_json_schema_is_a_forced_tool_whose_input_is_the_answer(bedrock, fake):
    schema = {"type": "object", "properties": {"answer": {"type": "string"}}}
    out = collect(bedrock().generate(chat(ChatMessage("user", "yes or no"), json_schema=schema)))
    assert json.loads(out.text) == {"answer": "yes or no"}
    config = fake.recording.requests[-1]["body"]["toolConfig"]
    assert config["toolChoice"] == {"tool": {"name": "json_answer"}}
    assert config["tools"][0]["toolSpec"]["inputSchema"] == {"json": schema}


def test_what_bedrock_cannot_do_is_refused_before_sending(bedrock, fake):
    eng = bedrock()
    for req in (chat(ChatMessage("user", "x"), grammar="root ::= \"a\""),
                chat(ChatMessage("user", "x"), logprobs=2),
                GenerateRequest(prompt_tokens=[1, 2, 3])):
        with pytest.raises(UnsupportedOperationError):
            eng.generate(req)
    for call in (lambda: eng.tokenize("x"), lambda: eng.embed(["x"]),
                 lambda: eng.token_logprobs([1, 2])):
        with pytest.raises(UnsupportedOperationError):
            call()
    assert fake.recording.requests == []
    assert eng.info.capabilities.logprobs is False and eng.n_threads == 0


@pytest.mark.parametrize("in_stream", [False, True])
def test_throttling_is_retried_with_backoff_then_answers(bedrock, fake, in_stream):
    waits: list[float] = []
    eng = bedrock(retry=AwsRetry(max_retries=3, backoff=0.2), sleep=waits.append)
    fake.faults.extend([Fault(in_stream=in_stream),
                        Fault(503, "ServiceUnavailableException", "busy", in_stream=in_stream)])
    out = collect(eng.generate(chat(ChatMessage("user", "hi"))))
    assert out.text == "You said: hi"
    assert eng.retries == 2 and len(fake.recording.requests) == 3
    assert 0.1 <= waits[0] <= 0.2 and 0.2 <= waits[1] <= 0.4  # exponential, jittered


def test_throttling_forever_gives_a_clear_error(bedrock, fake):
    eng = bedrock(retry=AwsRetry(max_retries=2, backoff=0.001))
    fake.faults.extend([Fault()] * 5)
    with pytest.raises(AwsError) as info:
        eng.generate(chat(ChatMessage("user", "hi")))
    err = info.value
    assert err.retryable and err.aws_code == "ThrottlingException" and err.code == "upstream_error"
    assert "gave up after 3 attempts" in err.message and "Too many requests" in err.message
    assert "throttling" in err.hint
    assert len(fake.recording.requests) == 3 and eng.retries == 2


def test_a_bad_model_id_is_a_clear_error_without_retries(bedrock, fake):
    eng = bedrock("anthropic.claude-nonexistent-v9")
    with pytest.raises(AwsError) as info:
        eng.generate(chat(ChatMessage("user", "hi")))
    assert "anthropic.claude-nonexistent-v9" in info.value.message
    assert INVALID_MODEL in info.value.message and "ValidationException" in info.value.message
    assert "model id" in info.value.hint
    assert len(fake.recording.requests) == 1 and eng.retries == 0


def test_credentials_never_appear_in_errors_logs_or_repr(bedrock, fake, caplog):
    caplog.set_level(logging.DEBUG)
    eng = bedrock(retry=AwsRetry(max_retries=1, backoff=0.001))
    fake.faults.extend([Fault(403, "UnrecognizedClientException",
                              "The security token included in the request is invalid.")])
    with pytest.raises(AwsError) as info:
        eng.generate(chat(ChatMessage("user", "hi")))
    shown = str(info.value) + repr(info.value) + repr(eng) + caplog.text
    assert "aws sts get-caller-identity" in str(info.value)
    assert DUMMY_SECRET not in shown
    assert DUMMY_KEY_ID not in str(info.value) + repr(eng)


def test_missing_credentials_say_how_to_configure_them(fake, tmp_path, monkeypatch):
    import boto3

    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                "AWS_PROFILE", "AWS_BEARER_TOKEN_BEDROCK"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    eng = BedrockEngine(MODEL, session=boto3.Session(region_name="us-east-1"),
                        endpoint_url=fake.url)
    with pytest.raises(AwsError) as info:
        eng.generate(chat(ChatMessage("user", "hi")))
    assert "no AWS credentials" in info.value.message and "aws configure" in info.value.hint


def test_backoff_grows_exponentially_with_jitter_up_to_a_ceiling():
    policy = AwsRetry(backoff=1.0, max_backoff=5.0)
    rng = random.Random(7)
    for attempt, ceiling in enumerate((1.0, 2.0, 4.0, 5.0, 5.0)):
        waits = {round(policy.delay(attempt, rng), 6) for _ in range(20)}
        assert all(ceiling / 2 <= w <= ceiling for w in waits) and len(waits) > 1


def test_closing_a_stream_early_cancels_it(bedrock):
    stream = bedrock().generate(chat(ChatMessage("user", "a rather long message " * 5)))
    first = next(stream)
    assert first.text
    stream.close()
    stream.close()  # idempotent
    assert list(stream) == []


def test_usage_costs_go_into_the_routing_ledger(bedrock, fake, tmp_path):
    from helpers.fake_engine import FakeLocal
    from slmkit.guard import Guard
    from slmkit.route import Ledger, PriceTable, RoutedEngine
    from slmkit.runtime.bedrock.prices import load_prices

    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps({"anthropic.claude-3-5-haiku": [1.0, 2.0]}))
    eng = bedrock("us." + MODEL)
    ledger = Ledger(tmp_path / "ledger.sqlite")
    routed = RoutedEngine(FakeLocal(), eng, guard=Guard(), ledger=ledger,
                          prices=PriceTable.load(base=load_prices(prices)))
    out = collect(routed.generate(chat(ChatMessage("user", "hi there")), route="remote"))
    assert out.text == "You said: hi there" and out.usage.decision.route == "remote"
    (entry,) = ledger.entries()
    assert entry.remote_model == "bedrock:us." + MODEL
    assert entry.remote_completion_tokens == out.usage.completion_tokens > 0
    expected = (entry.remote_prompt_tokens * 1.0 + entry.remote_completion_tokens * 2.0) / 1e6
    assert entry.remote_cost == pytest.approx(expected) and expected > 0


def test_a_broken_streamed_tool_input_ends_the_answer_as_an_error():
    from slmkit.runtime.bedrock.wire import Blocks

    blocks = Blocks()
    events = [{"contentBlockStart": {"contentBlockIndex": 0, "start": {"toolUse": {
        "toolUseId": "t1", "name": "get_weather"}}}},
        {"contentBlockDelta": {"contentBlockIndex": 0, "delta": {"toolUse": {"input": '{"ci'}}}},
        {"contentBlockStop": {"contentBlockIndex": 0}},
        {"messageStop": {"stopReason": "tool_use"}}]
    assert [blocks.event(e) for e in events] == ["", "", "", ""]
    from slmkit.runtime.bedrock.wire import finish_reason

    assert finish_reason(blocks.stop_reason) == "error"
