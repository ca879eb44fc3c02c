"""``ChunkStream.close()`` cancels the request and frees what it holds, on the llama.cpp
engine (the batch slot) and the Python-loop engine (the engine lock and its KV cache), on
a tiny random model (fast)."""

from __future__ import annotations

import threading
import time

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from helpers.tiny_models import build_model  # noqa: E402
from slmkit.core.engine import ChunkStream  # noqa: E402
from slmkit.core.errors import QueueFullError, UnsupportedOperationError  # noqa: E402
from slmkit.core.types import GREEDY, GenerateRequest, SamplingParams, collect  # noqa: E402
from slmkit.runtime import load_engine  # noqa: E402

# a seeded, unfiltered draw: many tokens before an end-of-generation token (deterministic)
LONG = SamplingParams(temperature=1.0, top_k=0, top_p=1.0, min_p=0.0, seed=4)


def long_request(**kw) -> GenerateRequest:
    return GenerateRequest(prompt="Once upon a time there was", max_tokens=40,
                           sampling=LONG, **kw)


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    return build_model(tmp_path_factory.mktemp("tiny-close") / "m", "llama")


@pytest.fixture(scope="module")
def tiny_gguf(tiny_dir, tmp_path_factory):
    from slmkit.convert import hf_to_gguf

    return str(hf_to_gguf(tiny_dir, tmp_path_factory.mktemp("tiny-close-gguf") / "m.gguf"))


def wait_until(condition, limit: float = 30.0) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.01)


def drain(q) -> list:
    out = []
    while not q.empty():
        out.append(q.get())
    return out


def read_some(stream, n: int = 3) -> list:
    chunks = [next(stream) for _ in range(n)]
    assert all(c.finish_reason is None for c in chunks), "the request finished before close"
    return chunks


def test_llamacpp_close_cancels_and_frees_the_slot(tiny_gguf):
    # one slot and no queue: a second request is refused while the first holds the slot
    with load_engine(tiny_gguf, n_ctx=128, n_parallel=1, max_queue=0, n_threads=2) as eng:
        stream = eng.generate(long_request())
        assert isinstance(stream, ChunkStream)
        read_some(stream)
        with pytest.raises(QueueFullError):
            eng.generate(long_request())
        stream.close()
        assert list(stream) == []  # nothing more after close
        stream.close()  # idempotent
        wait_until(lambda: eng.stats()["busy"] == 0)  # the scheduler drops it at its next step
        last = drain(stream._seq.out)[-1]  # what the scheduler said when it let go
        assert last.finish_reason == "cancelled" and last.usage.completion_tokens < 40
        done = collect(eng.generate(long_request()))  # the slot is free again
        assert done.finish_reason in ("stop", "length") and eng.stats()["busy"] == 0


def test_pyloop_close_cancels_and_releases_the_engine(tiny_dir):
    with load_engine(str(tiny_dir), backend="torch", n_ctx=128, n_threads=2) as eng:
        fresh = collect(eng.generate(GenerateRequest(prompt="The river", max_tokens=12,
                                                     sampling=GREEDY)))
        stream = eng.generate(long_request())
        assert isinstance(stream, ChunkStream)
        read_some(stream)
        stream.close()
        assert list(stream) == []
        # the engine lock is released (a held lock would block this thread forever) ...
        result = {}
        worker = threading.Thread(target=lambda: result.update(out=collect(eng.generate(
            GenerateRequest(prompt="The river", max_tokens=12, sampling=GREEDY)))))
        worker.start()
        worker.join(timeout=60)
        assert not worker.is_alive(), "a closed stream still holds the engine"
        # ... and the cancelled request left a usable cache: the same answer as before
        assert result["out"].text == fresh.text and result["out"].token_ids == fresh.token_ids


def test_pyloop_declares_what_it_lacks(tiny_dir):
    with load_engine(str(tiny_dir), backend="torch", n_ctx=64, n_threads=2) as eng:
        caps = eng.info.capabilities
        assert caps.logits and caps.embed and not caps.adapters and not caps.grammar
        with pytest.raises(UnsupportedOperationError, match="adapters"):
            eng.with_adapter("tuned")
        with pytest.raises(UnsupportedOperationError, match="no LoRA adapters"):
            eng.generate(GenerateRequest(prompt="hi", adapter="tuned"))
        assert eng.prompt_tokens(GenerateRequest(prompt="hi")) == eng.tokenize("hi")
