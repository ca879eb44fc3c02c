"""`pydantic-ai` against `slm serve`: an agent with a typed result and a tool."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

pytestmark = pytest.mark.integration
pydantic_ai = pytest.importorskip("pydantic_ai")

CODER = "qwen2.5-coder-0.5b-instruct"


class Weather(BaseModel):
    city: str
    temperature_c: int


def test_typed_result_after_a_tool_call(coder_server):
    from pydantic_ai.models.openai import OpenAIChatModel
    from pydantic_ai.providers.openai import OpenAIProvider

    model = OpenAIChatModel(CODER, provider=OpenAIProvider(
        base_url=coder_server.url + "/v1", api_key="unused"))
    agent = pydantic_ai.Agent(model, output_type=Weather,
                              model_settings={"temperature": 0, "max_tokens": 120})
    called: list[str] = []

    @agent.tool_plain
    def get_weather(city: str) -> dict:
        """Get the current weather in a city."""
        called.append(city)
        return {"city": city, "temperature_c": 21, "sky": "sunny"}

    result = agent.run_sync("What's the weather in Paris?",
                            usage_limits=pydantic_ai.UsageLimits(request_limit=4))
    assert isinstance(result.output, Weather)
    assert result.output.city == "Paris" and result.output.temperature_c == 21
    assert called == ["Paris"]
