"""The OpenAI Agents SDK (`openai-agents`) runs a two-tool agent against `slm serve` to a
final answer, through the chat-completions model, with tracing off."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration
agents = pytest.importorskip("agents")

CODER = "qwen2.5-coder-0.5b-instruct"


def test_a_two_tool_agent_finishes_with_the_right_tool(coder_server):
    from openai import AsyncOpenAI

    agents.set_tracing_disabled(True)
    called: list[str] = []

    @agents.function_tool
    def get_weather(city: str) -> str:
        """Get the current weather in a city."""
        called.append("get_weather")
        return f'{{"city": "{city}", "temperature_c": 21, "sky": "sunny"}}'

    @agents.function_tool
    def get_time(city: str) -> str:
        """Get the current local time in a city."""
        called.append("get_time")
        return f'{{"city": "{city}", "local_time": "14:05"}}'

    client = AsyncOpenAI(base_url=coder_server.url + "/v1", api_key="unused", max_retries=0,
                         timeout=300)
    agent = agents.Agent(
        name="assistant", instructions="You are a helpful assistant.",
        tools=[get_weather, get_time],
        model=agents.OpenAIChatCompletionsModel(model=CODER, openai_client=client),
        model_settings=agents.ModelSettings(temperature=0, max_tokens=120))
    result = agents.Runner.run_sync(agent, "What's the weather in Paris?", max_turns=4)
    assert called and set(called) == {"get_weather"}
    answer = str(result.final_output)
    assert answer.strip() and "tool_call" not in answer
    assert "21" in answer or "sunny" in answer.lower()
