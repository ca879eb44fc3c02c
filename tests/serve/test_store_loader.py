"""The server's StoreLoader (serve/loader.py) on tiny models: names and paths → backend,
memory per backend (llama.cpp's --parallel counts only there), loading through
``slmkit.models.load``, and the names a client may use."""

from __future__ import annotations

import pytest

from helpers.gguf_builder import build_tiny_gguf
from slmkit.core.errors import ModelNotFoundError
from slmkit.models import fit
from slmkit.models.store import Store
from slmkit.serve.loader import LoadOptions, StoreLoader
from slmkit.serve.registry import Registry


@pytest.fixture
def store(tmp_path):
    return Store(tmp_path / "store")


def test_gguf_memory_counts_every_parallel_sequence(tmp_path, store):
    gguf = str(build_tiny_gguf(tmp_path / "tiny.gguf"))
    spec = StoreLoader(LoadOptions(n_ctx=128, n_parallel=3), store=store).resolve(
        gguf, from_cli=True)
    assert spec.name == "tiny"
    assert spec.memory_bytes == fit.estimate(gguf, n_ctx=128, n_parallel=3).total
    assert spec.memory_bytes > fit.estimate(gguf, n_ctx=128).total


def test_clients_name_models_never_paths(tmp_path, store):
    gguf = str(build_tiny_gguf(tmp_path / "tiny.gguf"))
    loader = StoreLoader(LoadOptions(), store=store)
    for name in (gguf, f"{gguf}@torch", "hf:org/repo"):
        with pytest.raises(ModelNotFoundError, match="by name"):
            loader.resolve(name)
    with pytest.raises(ModelNotFoundError):
        loader.resolve("no-such-model")  # and a request never pulls


def test_a_hf_directory_is_served_by_torch_one_request_at_a_time(tmp_path, store):
    pytest.importorskip("torch")
    from helpers.tiny_models import build_model
    from slmkit.core.types import GREEDY, GenerateRequest, collect

    hf = build_model(tmp_path / "tiny-hf", "llama")
    loader = StoreLoader(LoadOptions(n_ctx=64, n_threads=1, n_parallel=4, max_queue=2),
                         store=store)
    spec = loader.resolve(str(hf), from_cli=True)
    assert spec.name == "tiny-hf"
    assert spec.memory_bytes == fit.estimate(str(hf), n_ctx=64, backend="torch").total
    registry = Registry(loader, queue=2)
    registry.remember(spec)  # as `slm serve` does for the models on its command line
    model = registry.acquire(spec.name)
    try:
        assert model.slots == 1 and model.limit == 3  # n_parallel is llama.cpp's
        assert model.info.capabilities.max_sequences == 1
        done = collect(model.engine.generate(GenerateRequest(prompt="Once upon", max_tokens=2,
                                                             sampling=GREEDY)))
        assert done.usage.completion_tokens >= 1
    finally:
        registry.release(model)
        registry.close()
    tagged = loader.resolve(f"{hf}@torch", from_cli=True)  # an explicit engine stays apart
    assert tagged.name == "tiny-hf@torch"
