"""The `ollama` Python client's tool calling against `slm serve`'s Ollama API: a call,
its result sent back as a `tool` turn, then a text answer."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration
ollama = pytest.importorskip("ollama")

CODER = "qwen2.5-coder-0.5b-instruct"


def get_weather(city: str) -> str:
    """Get the current weather in a city.

    Args:
        city: The city's name
    """
    return f'{{"city": "{city}", "temperature_c": 21, "sky": "sunny"}}'


def get_time(city: str) -> str:
    """Get the current local time in a city.

    Args:
        city: The city's name
    """
    return f'{{"city": "{city}", "local_time": "14:05"}}'


def test_tool_calling_loop_finishes(coder_server):
    client = ollama.Client(host=coder_server.url, timeout=300)
    tools = {f.__name__: f for f in (get_weather, get_time)}
    messages = [{"role": "user", "content": "What's the weather in Paris?"}]
    called = []
    for _ in range(4):
        r = client.chat(model=CODER, messages=messages, tools=list(tools.values()),
                        options={"temperature": 0, "num_predict": 120})
        messages.append(r.message)
        if not r.message.tool_calls:
            break
        for call in r.message.tool_calls:
            called.append(call.function.name)
            out = tools[call.function.name](**call.function.arguments)
            messages.append({"role": "tool", "content": out, "tool_name": call.function.name})
    assert not r.message.tool_calls and r.message.content.strip()
    assert called == ["get_weather"]
    assert "21" in r.message.content or "sunny" in r.message.content.lower()


def test_show_and_ps_name_the_quantization_as_tags_do(coder_server):
    client = ollama.Client(host=coder_server.url, timeout=300)
    client.generate(model=CODER, prompt="hi", options={"num_predict": 1})
    tags = {m.model: m.details.quantization_level for m in client.list().models}
    assert tags[CODER] == "Q4_K_M"
    assert client.show(CODER).details.quantization_level == "Q4_K_M"
    (running,) = [m for m in client.ps().models if m.model == CODER]
    assert running.details.quantization_level == "Q4_K_M"
