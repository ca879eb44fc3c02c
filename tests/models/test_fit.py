import pytest

from slmkit.core.errors import ModelTooLargeError
from slmkit.models.fit import check_fits, estimate_file
from slmkit.models.gguf_file import read_gguf
from slmkit.models.hardware import Hardware


def tiny_hardware(ram_bytes):
    return Hardware(total_ram=ram_bytes, available_ram=ram_bytes, physical_cores=2,
                    logical_cores=2, cpu_model="test", arch="x86_64", os="Linux",
                    cpu_flags=(), gpus=())


@pytest.mark.integration
def test_default_model_estimate_matches_llama_cpp(default_model_path):
    est = estimate_file(read_gguf(default_model_path), 4096)
    # llama.cpp reports a 90.00 MiB KV cache for SmolLM2-135M at ctx 4096 (30 layers,
    # 3 KV heads of 64 dims, f16 K and V).
    assert est.kv_cache == 2 * 30 * 4096 * 3 * 64 * 2 == 90 * 1024 * 1024
    assert est.weights > 90e6 and est.total < 400 * 1024 * 1024


@pytest.mark.integration
def test_too_large_names_estimate_and_alternatives(default_model_path):
    with pytest.raises(ModelTooLargeError) as info:
        check_fits(default_model_path, n_ctx=4096, hardware=tiny_hardware(100 * 1024**2))
    msg = str(info.value)
    assert "GiB" in msg and "available" in msg and "ctx 4096" in msg
    assert "smaller" in info.value.hint
    assert check_fits(default_model_path, n_ctx=4096, hardware=tiny_hardware(8 * 1024**3))


def test_gguf_estimate_is_cached_by_path_size_and_mtime(tmp_path, monkeypatch):
    from helpers.gguf_builder import build_tiny_gguf

    from slmkit.models.fit import estimate

    monkeypatch.setenv("SLM_CACHE_HOME", str(tmp_path / "cache"))
    path = build_tiny_gguf(tmp_path / "m.gguf", extra_tokens=6000)  # a skipped string array
    want = estimate_file(read_gguf(path), 512)
    first, again = estimate(str(path), n_ctx=512), estimate(str(path), n_ctx=512)
    assert (first.weights, first.kv_cache, first.overhead, first.n_ctx) == \
        (want.weights, want.kv_cache, want.overhead, want.n_ctx) == \
        (again.weights, again.kv_cache, again.overhead, again.n_ctx)
    assert (tmp_path / "cache" / "gguf-shapes.json").exists()
    build_tiny_gguf(path, n_layer=4)  # the same path, another model: not the cached one
    assert estimate(str(path), n_ctx=512).kv_cache == estimate_file(read_gguf(path), 512).kv_cache
    assert estimate(str(path), n_ctx=512).kv_cache != want.kv_cache
