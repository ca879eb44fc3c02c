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


def _engines_alive() -> int:
    import threading

    return sum(t.name == "slm-scheduler" for t in threading.enumerate())


def test_early_load_hands_its_engine_to_the_first_load(default_model_path, store):
    """`slm serve` starts loading its first model while the server imports: the loader
    takes that engine for the same file and options instead of loading it again."""
    from slmkit.core.types import GREEDY, GenerateRequest, collect
    from slmkit.serve.loader import EarlyLoad

    gguf = default_model_path
    options = LoadOptions(n_ctx=128, n_threads=1, n_parallel=2)
    before = _engines_alive()
    early = EarlyLoad(gguf, options, store=store)
    loader = StoreLoader(options, store=store, early=early)
    result = loader.load(loader.resolve(gguf, from_cli=True))
    try:
        assert _engines_alive() == before + 1  # the early engine, no second one
        assert loader.early is None and early.take(None, options) is None  # taken once
        done = collect(result.engine.generate(GenerateRequest(prompt="a", max_tokens=2,
                                                              sampling=GREEDY)))
        assert done.usage.completion_tokens >= 1
    finally:
        result.engine.close()


def test_early_load_of_other_options_is_closed_and_loaded_again(default_model_path, store):
    from slmkit.serve.loader import EarlyLoad

    gguf = default_model_path
    early = EarlyLoad(gguf, LoadOptions(n_ctx=128, n_threads=1), store=store)
    loader = StoreLoader(LoadOptions(n_ctx=64, n_threads=1), store=store, early=early)
    result = loader.load(loader.resolve(gguf, from_cli=True))
    try:
        assert result.engine.info.n_ctx == 64  # the loader's options, not the early load's
    finally:
        result.engine.close()


def test_early_load_drops_what_it_cannot_load(default_model_path, store):
    """Unknown names (or ``rag:`` prefixes) are left to the normal path, which reports them;
    an engine nobody took is closed by discard()."""
    from slmkit.serve.loader import EarlyLoad

    missing = EarlyLoad("no-such-model", LoadOptions(), store=store)
    assert missing.take(None, LoadOptions()) is None
    gguf = default_model_path
    before = _engines_alive()
    unused = EarlyLoad(gguf, LoadOptions(n_ctx=64, n_threads=1), store=store)
    unused.discard()
    assert _engines_alive() == before
