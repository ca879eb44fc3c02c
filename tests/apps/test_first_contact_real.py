"""Issue 14 on the real default model (qwen2.5-coder-0.5b-instruct) at its catalog defaults,
as `slm run MODEL PROMPT` sends it: the README tour's examples answer right (greedy: one run
stands for every run), and a Korean e-mail summary ask gets short Korean lines, not the
e-mail back (benchmarks/korean_summary.py measures ten e-mails)."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from apps.test_summarize_ask import ASK, MAIL, args
from slmkit.apps.chat import one_request
from slmkit.apps.summarize.checks import echoes

pytestmark = [pytest.mark.slow, pytest.mark.integration]
CODER = "qwen2.5-coder-0.5b-instruct"


@pytest.fixture(scope="module")
def coder():
    """The coder model from the shared test store, with its catalog prompt defaults."""
    from filelock import FileLock

    from conftest import shared_test_home
    from slmkit.models.load import load, resolve
    from slmkit.models.store import Store

    home = shared_test_home()
    home.mkdir(parents=True, exist_ok=True)
    store = Store(home)
    with FileLock(str(home / ".test-pull.lock")):
        store.pull(CODER)
    model = resolve(CODER, pull=False, store=store)
    assert model.prompt_defaults["temperature"] == 0.0  # greedy: measured (docs/first-contact.md)
    with load(model, n_ctx=2048, n_threads=2, store=store) as engine:
        yield engine, model.prompt_defaults


def answer(coder, prompt: str, max_tokens: int) -> str:
    from slmkit.core.types import collect

    engine, defaults = coder
    return collect(engine.generate(one_request(prompt, args(max_tokens=max_tokens, seed=None),
                                               defaults))).text


def test_the_tour_examples_answer_right_at_default_settings(coder):
    assert re.search(r"\bParis\b", answer(coder, "What is the capital of France?", 24))
    code = answer(coder, "Reverse a string in Python", 80)
    assert re.search(r"\[\s*::\s*-1\s*\]|reversed\(", code), code
    m = re.search(r"```(?:python)?\n(.*?)```", code, re.S)
    assert m, code
    run = subprocess.run([sys.executable, "-I", "-c", m.group(1)], capture_output=True,
                         text=True, timeout=10)
    assert run.returncode == 0, run.stderr


def test_a_korean_email_is_summarized_not_given_back(coder):
    text = answer(coder, ASK, 160)
    lines = [line for line in text.splitlines() if line.strip()]
    assert not echoes(text, MAIL), text  # sent as typed: the e-mail, verbatim
    assert 1 <= len(lines) <= 3 and len(text) < 0.6 * len(MAIL), text
    assert "회의" in text, text


def test_the_coder_template_renders_tool_calls_and_results_its_own_way(coder):
    # issue 14, item 1: tool results must reach the model as its template expects (Qwen:
    # <tool_call> in the assistant turn, <tool_response> in a user turn), tools described
    from slmkit.core.types import ChatMessage, ToolCall

    engine, _ = coder
    weather = {"type": "function", "function": {
        "name": "get_weather", "description": "Current weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}
    text = engine.render_chat([
        ChatMessage("user", "What's the weather in Paris?"),
        ChatMessage("assistant", "", tool_calls=(ToolCall("get_weather", {"city": "Paris"},
                                                          "call_1"),)),
        ChatMessage("tool", '{"temperature": 21}', name="get_weather",
                    tool_call_id="call_1")], tools=[weather])
    system = text.split("<|im_end|>")[0]
    assert "<tools>" in system and '"name": "get_weather"' in system
    assert '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}' in text
    assert '<|im_start|>user\n<tool_response>\n{"temperature": 21}\n</tool_response>' in text
    assert text.rstrip().endswith("<|im_start|>assistant")
