"""The `openai` package's `client.responses.create` against `slm serve` on the coder
model: plain and streamed text, and a function tool round trip to a text answer."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.integration

CODER = "qwen2.5-coder-0.5b-instruct"
WEATHER = {"type": "function", "name": "get_weather",
           "description": "Get the current weather in a city",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                          "required": ["city"]}}


@pytest.fixture(scope="module")
def oai(coder_server):
    from openai import OpenAI

    return OpenAI(base_url=coder_server.url + "/v1", api_key="unused", max_retries=0,
                  timeout=300)


def test_text_plain_and_streamed(oai):
    # the same request once before: both compared answers then reuse the whole prompt's cache
    # (a fresh prompt is evaluated in 4-row batches, a reused one re-reads only its last
    # token, and the coder's repacked Q4_K rows round differently in the two; "Paris." and
    # "Paris is the capital of France." are 0.1 nats apart)
    oai.responses.create(model=CODER, input="What is the capital of France?",
                         instructions="Answer in one short sentence.", temperature=0,
                         max_output_tokens=32)
    r = oai.responses.create(model=CODER, input="What is the capital of France?",
                             instructions="Answer in one short sentence.", temperature=0,
                             max_output_tokens=32)
    assert r.status == "completed" and "Paris" in r.output_text
    assert r.usage.input_tokens > 0 and r.usage.output_tokens > 0
    with oai.responses.stream(model=CODER, input="What is the capital of France?",
                              instructions="Answer in one short sentence.", temperature=0,
                              max_output_tokens=32) as stream:
        deltas = [e.delta for e in stream if e.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert "".join(deltas) == final.output_text == r.output_text


def test_function_tool_round_trip(oai):
    items = [{"role": "user", "content": "What's the weather in Paris?"}]
    r = oai.responses.create(model=CODER, input=items, tools=[WEATHER], temperature=0,
                             max_output_tokens=120)
    (call,) = [o for o in r.output if o.type == "function_call"]
    assert call.name == "get_weather" and json.loads(call.arguments) == {"city": "Paris"}
    items += [{"type": "function_call", "call_id": call.call_id, "name": call.name,
               "arguments": call.arguments},
              {"type": "function_call_output", "call_id": call.call_id,
               "output": json.dumps({"city": "Paris", "temperature_c": 21, "sky": "sunny"})}]
    r = oai.responses.create(model=CODER, input=items, tools=[WEATHER], temperature=0,
                             max_output_tokens=120)
    assert not [o for o in r.output if o.type == "function_call"]
    assert "21" in r.output_text or "sunny" in r.output_text.lower()
