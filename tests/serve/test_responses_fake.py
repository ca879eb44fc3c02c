"""``POST /v1/responses`` in-process over fake engines, through the real ``openai``
client's ``responses.create`` (plain and streamed): text and message-list input,
instructions, function tools in and out, structured output, usage, errors."""

from __future__ import annotations

import json

import pytest
from starlette.testclient import TestClient

from helpers.fake_engine import FakeLocal
from helpers.fake_server import FakeLoader, fake_app

LOOPBACK = "http://127.0.0.1:8000"
CALL = '{"name": "get_weather", "arguments": {"city": "Oslo"}}'
WEATHER = {"type": "function", "name": "get_weather", "description": "Weather in a city",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                          "required": ["city"]}}


@pytest.fixture
def loader() -> FakeLoader:
    return FakeLoader({
        "fake": lambda: FakeLocal(name="fake"),
        "fake-tool": lambda: FakeLocal(name="fake-tool", grammar=True, schema_answer=CALL),
        "fake-json": lambda: FakeLocal(name="fake-json", grammar=True,
                                       schema_answer='{"city": "Paris"}'),
    })


@pytest.fixture
def oai(loader):
    from openai import OpenAI

    app, _ = fake_app(loader)
    with TestClient(app, base_url=LOOPBACK) as http:
        yield OpenAI(base_url=LOOPBACK + "/v1", api_key="unused", http_client=http,
                     max_retries=0)


def test_text_input_and_instructions(oai, loader):
    r = oai.responses.create(model="fake", input="hello there", instructions="Be brief.")
    assert r.status == "completed" and r.output_text.strip() == "local: hello there"
    assert r.usage.input_tokens > 0 and r.usage.output_tokens == 3
    req = loader.last("fake").requests[-1]
    assert [(m.role, m.content) for m in req.messages] == [("system", "Be brief."),
                                                           ("user", "hello there")]


def test_message_list_input_with_parts(oai, loader):
    r = oai.responses.create(model="fake", input=[
        {"role": "developer", "content": "Be brief."},
        {"role": "user", "content": [{"type": "input_text", "text": "first"}]},
        {"role": "assistant", "content": [{"type": "output_text", "text": "ok"}]},
        {"role": "user", "content": "second"}], max_output_tokens=1)
    assert r.status == "incomplete" and r.incomplete_details.reason == "max_output_tokens"
    roles = [m.role for m in loader.last("fake").requests[-1].messages]
    assert roles == ["system", "user", "assistant", "user"]


def test_streamed_events_in_order(oai):
    events = list(oai.responses.create(model="fake", input="hello there", stream=True))
    kinds = [e.type for e in events]
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert kinds[-1] == "response.completed"
    assert kinds[2:5] == ["response.output_item.added", "response.content_part.added",
                          "response.output_text.delta"]
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text.strip() == "local: hello there"
    done = events[-1].response
    assert done.output_text == text and done.usage.output_tokens == 3
    assert [e.sequence_number for e in events] == list(range(len(events)))


@pytest.mark.parametrize("stream", [False, True])
def test_function_call_out_and_its_output_back_in(oai, loader, stream):
    r = oai.responses.create(model="fake-tool", input="weather in Oslo?", tools=[WEATHER],
                             stream=stream)
    if stream:
        events = list(r)
        assert "response.function_call_arguments.done" in [e.type for e in events]
        r = events[-1].response
    (call,) = [o for o in r.output if o.type == "function_call"]
    assert call.name == "get_weather" and json.loads(call.arguments) == {"city": "Oslo"}
    assert call.call_id
    oai.responses.create(model="fake-tool", tools=[WEATHER], input=[
        {"role": "user", "content": "weather in Oslo?"},
        {"type": "function_call", "call_id": call.call_id, "name": call.name,
         "arguments": call.arguments},
        {"type": "function_call_output", "call_id": call.call_id, "output": '{"temp": 3}'}])
    sent = loader.last("fake-tool").requests
    first_again = sent[-2]  # the same call again: replaced by a text answer
    assert first_again.messages[-1].role == "tool" and first_again.messages[-1].content == \
        '{"temp": 3}'
    assert first_again.messages[-2].tool_calls[0].arguments == {"city": "Oslo"}
    assert sent[-1].grammar is not None  # the text-only retry


def test_structured_output(oai, loader):
    schema = {"type": "object", "properties": {"city": {"type": "string"}},
              "required": ["city"]}
    r = oai.responses.create(model="fake-json", input="a city", text={"format": {
        "type": "json_schema", "name": "city", "schema": schema, "strict": True}})
    assert json.loads(r.output_text) == {"city": "Paris"}
    assert loader.last("fake-json").requests[-1].json_schema == schema


def test_unsupported_input_is_a_400(oai):
    import openai

    with pytest.raises(openai.BadRequestError, match="previous_response_id"):
        oai.responses.create(model="fake", input="hi", previous_response_id="resp_1")
    with pytest.raises(openai.BadRequestError, match="input_image"):
        oai.responses.create(model="fake", input=[{"role": "user", "content": [
            {"type": "input_image", "image_url": "http://x"}]}])
