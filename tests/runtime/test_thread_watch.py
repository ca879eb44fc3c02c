"""The llama.cpp engine re-chooses its thread count while decoding (issue 14)."""

from __future__ import annotations

import pytest

from slmkit.core.types import GREEDY, ChatMessage, GenerateRequest, collect
from slmkit.util.threads import DecodeWatch

pytestmark = pytest.mark.integration


def _ask(engine) -> str:
    return collect(engine.generate(GenerateRequest(
        messages=[ChatMessage("user", "What is the capital of France?")], max_tokens=8,
        sampling=GREEDY))).text


def test_default_threads_are_watched_and_switched(default_model_path):
    from slmkit.runtime import load_engine

    engine = load_engine(default_model_path, n_ctx=512, n_threads=0)
    try:
        assert engine._model.auto_threads and engine.n_threads >= 1
        first = _ask(engine)
        watch = engine._scheduler.watch
        assert isinstance(watch, DecodeWatch) and watch.auto
        # a collapse while another process holds a core: the engine switches to 1 thread
        watch.judge(100.0, 0.0, 2, 2, None)
        new = watch.judge(1.0, 1.5, 2, 2, None)
        if new is not None:
            engine._model.set_threads(new)
        assert engine.n_threads == 1 and watch.collapses == 1
        assert _ask(engine) == first  # same greedy answer on the new thread count
    finally:
        engine.close()


def test_explicit_threads_are_kept(default_model_path):
    from slmkit.runtime import load_engine

    engine = load_engine(default_model_path, n_ctx=512, n_threads=2)
    try:
        _ask(engine)
        assert not engine._model.auto_threads
        assert engine._scheduler.watch.auto is False and engine.n_threads == 2
    finally:
        engine.close()
