"""LangChain's `ChatOpenAI` against `slm serve`: `bind_tools` in an agent loop that ends in
a text answer, and `with_structured_output` returning a typed object."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

pytestmark = pytest.mark.integration
langchain_openai = pytest.importorskip("langchain_openai")

CODER = "qwen2.5-coder-0.5b-instruct"


def _llm(server):
    return langchain_openai.ChatOpenAI(model=CODER, base_url=server.url + "/v1",
                                       api_key="unused", temperature=0, max_tokens=120,
                                       max_retries=0, timeout=300)


def test_bind_tools_loop_finishes_with_the_right_tool(coder_server):
    from langchain_core.messages import HumanMessage, ToolMessage
    from langchain_core.tools import tool

    @tool
    def get_weather(city: str) -> str:
        """Get the current weather in a city."""
        return f'{{"city": "{city}", "temperature_c": 21, "sky": "sunny"}}'

    @tool
    def get_time(city: str) -> str:
        """Get the current local time in a city."""
        return f'{{"city": "{city}", "local_time": "14:05"}}'

    tools = {t.name: t for t in (get_weather, get_time)}
    llm = _llm(coder_server).bind_tools(list(tools.values()))
    messages, called = [HumanMessage("What time is it in Tokyo right now?")], []
    for _ in range(4):
        ai = llm.invoke(messages)
        messages.append(ai)
        if not ai.tool_calls:
            break
        for call in ai.tool_calls:
            called.append(call["name"])
            messages.append(ToolMessage(tools[call["name"]].invoke(call["args"]),
                                        tool_call_id=call["id"]))
    assert not messages[-1].tool_calls and messages[-1].content.strip()
    assert set(called) == {"get_time"}
    assert "14:05" in messages[-1].content or "2:05" in messages[-1].content


class Capital(BaseModel):
    country: str
    capital: str


def test_with_structured_output_returns_the_typed_object(coder_server):
    out = _llm(coder_server).with_structured_output(Capital).invoke(
        "What is the capital of France? Give the country and its capital.")
    assert isinstance(out, Capital)
    assert out.capital == "Paris" and out.country == "France"
