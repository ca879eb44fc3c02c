"""The flash-attention option of the llama.cpp engine (``SLM_FLASH_ATTN``, off by default).

Why it exists: with it off, llama.cpp's CPU attention sums over all the cache's cells in SIMD
lanes, so where a request's cells land (which depends on what else is or was in the cache)
changes its logits in the last bits, and a sampled answer drifts; the flash kernel visits a
sequence's own cells one by one (docs/performance.md, "Flash attention and seeded sampling").
"""

import pytest

from slmkit.core.types import GREEDY, ChatMessage, GenerateRequest, collect
from slmkit.settings import get_settings, reload_settings

pytestmark = pytest.mark.integration

FRANCE = [ChatMessage("system", "Answer briefly and factually."),
          ChatMessage("user", "What is the capital of France?")]


def test_off_by_default_and_the_setting_turns_it_on(monkeypatch):
    assert get_settings().flash_attn is False
    monkeypatch.setenv("SLM_FLASH_ATTN", "1")
    try:
        assert reload_settings().flash_attn is True
    finally:
        monkeypatch.undo()
        reload_settings()


@pytest.fixture(scope="module")
def flash(default_model_path):
    from slmkit.runtime import load_engine

    eng = load_engine(default_model_path, n_ctx=1024, n_parallel=2, n_threads=1,
                      flash_attn=True)
    yield eng
    eng.close()


def test_flash_engine_answers_as_the_default_one_does(flash, engine):
    assert flash._model.options.flash_attn and not engine._model.options.flash_attn
    want = collect(engine.generate(GenerateRequest(messages=FRANCE, sampling=GREEDY,
                                                   max_tokens=24)))
    got = collect(flash.generate(GenerateRequest(messages=FRANCE, sampling=GREEDY,
                                                 max_tokens=24)))
    assert "Paris" in got.text and "Paris" in want.text


def test_the_prompt_cache_keeps_the_two_kernels_apart(flash, engine, tmp_path, monkeypatch):
    from slmkit.runtime.llamacpp.prompt_cache import PromptCache

    monkeypatch.setenv("SLM_PROMPT_CACHE", "1")
    monkeypatch.setenv("SLM_CACHE_HOME", str(tmp_path))
    try:
        reload_settings()
        a, b = PromptCache.for_model(flash._model), PromptCache.for_model(engine._model)
    finally:
        monkeypatch.undo()
        reload_settings()
    assert a.path != b.path  # a KV state saved by one kernel is never loaded by the other
