"""Opening a model: backend detection (runtime.detect), the per-backend fit check
(models.fit) and the one entry point (models.load, ``slmkit.load``), on tiny files and
directories built here."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from helpers.gguf_builder import build_tiny_gguf
from slmkit.core.errors import (
    InvalidModelFileError,
    ModelNotFoundError,
    ModelTooLargeError,
    UnsupportedOperationError,
)
from slmkit.models import catalog, fit
from slmkit.models.hardware import Hardware
from slmkit.models.load import ResolvedModel, check_fit, resolve, split_engine
from slmkit.models.store import Store
from slmkit.runtime import detect_backend

KiB = 1024

# a tiny llama shape: 2 layers, 4 heads of 16 dims, 2 KV heads, trained context 256
CONFIG = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "num_hidden_layers": 2,
          "num_attention_heads": 4, "num_key_value_heads": 2, "hidden_size": 64,
          "max_position_embeddings": 256, "vocab_size": 320}
GENAI = {"model": {"type": "llama", "context_length": 256, "vocab_size": 320,
                   "decoder": {"num_hidden_layers": 2, "num_attention_heads": 4,
                               "num_key_value_heads": 2, "head_size": 16, "hidden_size": 64}}}
KV_FP32_AT_256 = 2 * 2 * 256 * 2 * 16 * 4  # K and V × layers × ctx × kv heads × dim × 4 B


def hardware(ram_bytes: int) -> Hardware:
    return Hardware(total_ram=ram_bytes, available_ram=ram_bytes, physical_cores=2,
                    logical_cores=2, cpu_model="test", arch="x86_64", os="Linux",
                    cpu_flags=(), gpus=())


def hf_dir(path, *, weights: int = 10 * KiB, **config):
    path.mkdir(parents=True)
    (path / "config.json").write_text(json.dumps({**CONFIG, **config}))
    (path / "model.safetensors").write_bytes(b"\0" * weights)
    return path


def onnx_dir(path, *, weights: int = 6 * KiB):
    path.mkdir(parents=True)
    (path / "genai_config.json").write_text(json.dumps(GENAI))
    (path / "model.onnx").write_bytes(b"\0" * KiB)
    (path / "model.onnx.data").write_bytes(b"\0" * (weights - KiB))
    (path / "tokenizer.json").write_bytes(b"{}" * 4000)  # not weights
    return path


# ---- detection -----------------------------------------------------------------------------

def test_detect_backend_by_content(tmp_path):
    gguf = build_tiny_gguf(tmp_path / "blob-without-suffix")
    assert detect_backend(gguf) == "llamacpp"
    assert detect_backend(hf_dir(tmp_path / "hf")) == "torch"
    assert detect_backend(onnx_dir(tmp_path / "onnx")) == "onnx"
    both = hf_dir(tmp_path / "both")  # the ONNX export keeps config.json next to genai's
    (both / "genai_config.json").write_text(json.dumps(GENAI))
    assert detect_backend(both) == "onnx"
    bins = tmp_path / "bins"
    bins.mkdir()
    (bins / "config.json").write_text(json.dumps(CONFIG))
    (bins / "pytorch_model.bin").write_bytes(b"x")
    assert detect_backend(bins) == "torch"


def test_detect_backend_errors_say_what_is_expected(tmp_path):
    text = tmp_path / "notes.gguf"
    text.write_text("not a model")
    with pytest.raises(InvalidModelFileError, match="not a GGUF file") as err:
        detect_backend(text)
    assert "genai_config.json" in err.value.hint and "config.json" in err.value.hint
    with pytest.raises(InvalidModelFileError, match="no such model file"):
        detect_backend(tmp_path / "missing")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InvalidModelFileError, match="neither genai_config.json nor config.json"):
        detect_backend(empty)
    (empty / "config.json").write_text(json.dumps(CONFIG))
    with pytest.raises(InvalidModelFileError, match="no weights") as err:
        detect_backend(empty)
    assert "slm convert" in err.value.hint


# ---- fit, per backend ----------------------------------------------------------------------

def test_torch_estimate_scales_weights_to_the_load_dtype(tmp_path):
    bf16 = fit.estimate(str(hf_dir(tmp_path / "bf16", torch_dtype="bfloat16")), n_ctx=4096)
    assert bf16.backend == "torch" and bf16.n_ctx == 256  # capped at the trained context
    assert bf16.weights == 20 * KiB  # bfloat16 on disk, float32 once loaded
    assert bf16.kv_cache == KV_FP32_AT_256
    assert bf16.overhead >= fit.RUNTIME_ALLOWANCE["torch"]
    f32 = fit.estimate(str(hf_dir(tmp_path / "f32", dtype="float32")), n_ctx=128)
    assert f32.weights == 10 * KiB and f32.kv_cache == KV_FP32_AT_256 // 2
    as_bf16 = fit.estimate(str(tmp_path / "bf16"), n_ctx=256, dtype="bfloat16")
    assert as_bf16.weights == 10 * KiB and as_bf16.kv_cache == KV_FP32_AT_256 // 2


def test_torch_estimate_counts_torchao_weights_as_stored(tmp_path):
    stored = hf_dir(tmp_path / "int8", torch_dtype="bfloat16")
    (stored / fit.QUANT_RECIPE).write_text(json.dumps({"method": "torchao", "scheme": "int8",
                                                        "storage": "torchao-safetensors"}))
    assert detect_backend(stored) == "torch"
    assert fit.estimate(str(stored), n_ctx=256).weights == 10 * KiB


def test_multimodal_config_reads_its_text_config(tmp_path):
    nested = tmp_path / "gemma"
    nested.mkdir()
    (nested / "config.json").write_text(json.dumps({"model_type": "gemma3",
                                                     "text_config": CONFIG}))
    (nested / "model.safetensors").write_bytes(b"\0" * KiB)
    assert fit.estimate(str(nested), n_ctx=256).kv_cache == KV_FP32_AT_256


def test_onnx_estimate_counts_onnx_files_and_a_float32_cache(tmp_path):
    est = fit.estimate(str(onnx_dir(tmp_path / "o")), n_ctx=1024)
    assert est.backend == "onnx" and est.n_ctx == 256
    assert est.weights == 6 * KiB and est.kv_cache == KV_FP32_AT_256


def test_only_llamacpp_holds_a_cache_per_parallel_sequence(tmp_path):
    gguf = str(build_tiny_gguf(tmp_path / "t.gguf"))
    one = fit.check_fits(gguf, n_ctx=256, hardware=hardware(2**34))
    four = fit.check_fits(gguf, n_ctx=256, n_parallel=4, hardware=hardware(2**34))
    assert one.backend == "llamacpp" and four.kv_cache == 4 * one.kv_cache > 0
    torch_dir = str(hf_dir(tmp_path / "hf"))
    t1 = fit.check_fits(torch_dir, n_ctx=256, hardware=hardware(2**34))
    t4 = fit.check_fits(torch_dir, n_ctx=256, n_parallel=4, hardware=hardware(2**34))
    assert t4 == t1 and t4.n_parallel == 1


def test_torch_on_a_gguf_counts_dequantized_weights(tmp_path):
    gguf = build_tiny_gguf(tmp_path / "t.gguf")
    est = fit.estimate(str(gguf), backend="torch", n_ctx=64)
    from slmkit.models.gguf_file import read_gguf

    assert est.weights == read_gguf(gguf).parameter_count * 4


@pytest.mark.parametrize("kind, tip", [("hf", "--engine torch --type int8"),
                                       ("onnx", "--to onnx --type int4")])
def test_too_large_says_numbers_backend_and_fix(tmp_path, kind, tip):
    path = str(hf_dir(tmp_path / "m") if kind == "hf" else onnx_dir(tmp_path / "m"))
    with pytest.raises(ModelTooLargeError) as err:
        fit.check_fits(path, n_ctx=512, hardware=hardware(100 * 1024**2))
    msg, hint = str(err.value), err.value.hint
    assert "GiB" in msg and "ctx 256" in msg and "available" in msg
    assert ("on torch" if kind == "hf" else "on onnx") in msg
    assert tip in hint and "smaller --ctx" in hint and fit.SKIP_ENV in hint


# ---- resolve and load ----------------------------------------------------------------------

def test_split_engine_only_takes_known_suffixes():
    assert split_engine("m@onnx") == ("m", "onnx")
    assert split_engine("m@torch", "llamacpp") == ("m", "torch")
    assert split_engine("hf:org/repo@main") == ("hf:org/repo@main", "auto")
    assert split_engine(None, "torch") == (None, "torch")


def test_resolve_paths_detects_and_honours_the_suffix(tmp_path):
    store = Store(tmp_path / "store")
    gguf = build_tiny_gguf(tmp_path / "tiny.gguf")
    model = resolve(str(gguf), store=store)
    assert isinstance(model, ResolvedModel)
    assert (model.name, model.backend, model.path) == ("tiny", "llamacpp", str(gguf))
    assert model.prompt_defaults == {}
    assert resolve(f"{gguf}@torch", store=store).backend == "torch"
    assert resolve(str(hf_dir(tmp_path / "my-hf")), store=store).backend == "torch"
    assert resolve(str(onnx_dir(tmp_path / "my-onnx")), store=store).backend == "onnx"
    assert resolve(f"{gguf}@vllm", store=store).backend == "vllm"  # issue 19
    with pytest.raises(ValueError, match="unknown backend"):
        resolve(str(gguf), backend="tensorrt", store=store)
    with pytest.raises(ModelNotFoundError, match="slm pull"):
        resolve(catalog.default_model().name, pull=False, store=store)


def test_a_copy_of_a_catalogued_file_gets_its_prompt_defaults(tmp_path):
    entry = catalog.default_model()
    file_name = entry.source.split("#")[-1].rsplit("/", 1)[-1]
    copy = build_tiny_gguf(tmp_path / file_name)
    model = resolve(str(copy), store=Store(tmp_path / "store"))
    assert model.prompt_defaults == entry.prompt_defaults and model.prompt_defaults


def test_load_checks_memory_before_loading(tmp_path):
    from slmkit.models.load import load

    with pytest.raises(ModelTooLargeError):
        load(str(hf_dir(tmp_path / "hf")), hardware=hardware(1024**2),
             store=Store(tmp_path / "store"))


def test_slmkit_load_is_lazy_and_opens_a_tiny_hf_dir(tmp_path):
    pytest.importorskip("torch")
    from helpers.tiny_models import build_model
    from slmkit.core.types import GREEDY, GenerateRequest, collect

    probe = ("import sys, slmkit; print(sorted(m for m in sys.modules if m.startswith("
             "('slmkit.models', 'slmkit.runtime', 'torch', 'llama_cpp'))))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=False)
    assert out.stdout.strip() == "[]", out.stderr
    import slmkit
    from slmkit.models import load as load_module

    assert slmkit.load is load_module.load
    hf = build_model(tmp_path / "tiny-hf", "llama")
    store = Store(tmp_path / "store")
    with slmkit.load(str(hf), n_ctx=64, n_threads=1, n_parallel=4, max_queue=2,
                     store=store) as engine:  # the llama.cpp-only options are not passed on
        assert engine.info.name == "tiny-hf" and engine.info.n_ctx == 64
        assert engine.info.capabilities.max_sequences == 1
        done = collect(engine.generate(GenerateRequest(prompt="Once upon", max_tokens=3,
                                                       sampling=GREEDY)))
        assert done.usage.completion_tokens >= 1
    with pytest.raises(UnsupportedOperationError, match="adapters"):
        slmkit.load(str(hf), adapters={"a": "x.gguf"}, store=store)


def test_check_fit_uses_the_resolved_backend(tmp_path):
    gguf = build_tiny_gguf(tmp_path / "t.gguf")
    store = Store(tmp_path / "store")
    native = check_fit(resolve(str(gguf), store=store), n_ctx=64, hardware=hardware(2**34))
    torch = check_fit(resolve(f"{gguf}@torch", store=store), n_ctx=64,
                      hardware=hardware(2**34))
    assert (native.backend, torch.backend) == ("llamacpp", "torch")
    assert torch.kv_cache == 2 * native.kv_cache  # float32 keys/values vs llama.cpp's f16
