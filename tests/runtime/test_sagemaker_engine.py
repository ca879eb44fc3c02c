"""The SageMaker engine against the local fake (InvokeEndpoint; InvokeEndpointWithResponseStream
as event-stream PayloadPart frames cut at arbitrary bytes, so JSON lines and UTF-8
characters are split across parts), plus the line reassembly on its own."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("boto3")

from helpers.fake_aws import FakeAws, Fault, dummy_session  # noqa: E402
from slmkit.core.types import ChatMessage, GenerateRequest, collect  # noqa: E402
from slmkit.runtime.awsclient import AwsError, AwsRetry  # noqa: E402
from slmkit.runtime.sagemaker import SageMakerEngine  # noqa: E402
from slmkit.runtime.sagemaker.lines import DONE, LineBuffer, delta_of, payloads  # noqa: E402

TEXT = "héllo 한국어 endpoint"


@pytest.fixture(scope="module")
def fake():
    server = FakeAws()
    yield server
    server.stop()


def engine(fake, endpoint="slm-endpoint", **kw) -> SageMakerEngine:
    kw.setdefault("retry", AwsRetry(max_retries=2, backoff=0.001))
    return SageMakerEngine(endpoint, session=dummy_session("eu-central-1"),
                           endpoint_url=fake.url, **kw)


def ask(text: str = TEXT, **kw) -> GenerateRequest:
    return GenerateRequest(messages=[ChatMessage("user", text)], max_tokens=32, **kw)


@pytest.mark.parametrize("endpoint", ["slm-endpoint", "slm-endpoint-jsonl"])
@pytest.mark.parametrize("part_size", [1, 7, 64])
def test_streamed_lines_split_across_payload_parts_are_reassembled(fake, endpoint, part_size):
    fake.reset()
    fake.server.part_size = part_size
    try:
        with engine(fake, endpoint) as eng:
            chunks = list(eng.generate(ask()))
    finally:
        fake.server.part_size = 7
    out = collect(chunks)
    assert out.text == "You said: " + TEXT and out.finish_reason == "stop"
    assert len(chunks) > 3 and out.usage.prompt_tokens == 9
    (req,) = fake.recording.requests
    assert req["path"].endswith("/invocations-response-stream")
    assert req["body"]["stream"] is True and req["body"]["messages"][0]["content"] == TEXT
    assert "model" not in req["body"]  # the container answers with the model it serves
    assert "eu-central-1/sagemaker/aws4_request" in req["headers"]["authorization"]


def test_a_whole_answer_with_invoke_endpoint(fake):
    fake.reset()
    with engine(fake, streaming=False, model="smollm2") as eng:
        out = collect(eng.generate(ask()))
    assert out.text == "You said: " + TEXT and out.usage.completion_tokens == 3
    body = fake.recording.requests[0]["body"]
    assert body["stream"] is False and body["model"] == "smollm2"


def test_throttling_is_retried_then_a_clear_error(fake):
    fake.reset()
    fake.faults.extend([Fault()])
    with engine(fake) as eng:
        assert collect(eng.generate(ask("hi"))).text == "You said: hi"
        assert eng.retries == 1
        fake.faults.extend([Fault()] * 3)
        with pytest.raises(AwsError, match="gave up after 3 attempts"):
            eng.generate(ask("hi"))


def test_an_unknown_endpoint_is_a_clear_error(fake):
    with engine(fake, "no-such-endpoint") as eng, pytest.raises(AwsError) as info:
        eng.generate(ask())
    assert "no-such-endpoint" in info.value.message and "not found" in info.value.message
    assert "list-endpoints" in info.value.hint and not info.value.retryable


def test_line_buffer_and_payload_shapes():
    data = ('data: {"choices":[{"delta":{"content":"한"}}]}\n\n: comment\n'
            '{"token":{"text":"x","special":false}}\n'
            '{"token":{"text":"</s>","special":true},"details":{"finish_reason":"length",'
            '"generated_tokens":2}}\ndata: [DONE]').encode()
    buf, lines = LineBuffer(), []
    for i in range(len(data)):  # one byte at a time: a Korean character spans three
        lines += buf.push(data[i:i + 1])
    objs = list(payloads(lines + buf.flush()))
    assert objs[-1] is DONE
    deltas = [delta_of(o) for o in objs[:-1]]
    assert [d.text for d in deltas] == ["한", "x", ""]
    assert deltas[2].finish_reason == "length" and deltas[2].usage == {"completion_tokens": 2}
    assert json.loads(lines[0][5:])["choices"][0]["delta"]["content"] == "한"
