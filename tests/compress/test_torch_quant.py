"""torchao weight-only quantization for the torch engine: int8 / int4 on a tiny random
llama, the recipe round trip through a directory and the store, the CLI, refusals; one
integration test on the real default model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("torchao")

from helpers.tiny_models import build_model
from slmkit.core.types import GREEDY, ChatMessage, GenerateRequest, collect
from slmkit.runtime import load_engine
from slmkit.runtime.torch import quantize as tq

IDS = [5, 17, 42, 99, 3, 250, 7, 61, 128, 200, 11, 300, 77, 8, 19, 45] * 2


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def tiny_dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("torchao")
    return {"tied": build_model(root / "tied", "llama"),
            "untied": build_model(root / "untied", "llama", tied=False, seed=1)}


def _model(path):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(str(path), dtype=torch.float32).eval()


def _logp(model):
    with torch.no_grad():
        return model(torch.tensor([IDS])).logits[0].double().log_softmax(-1)


def _mean_kl(ref, out) -> float:
    return float((ref.exp() * (ref - out)).sum(-1).mean())


@pytest.mark.parametrize("kind", ["tied", "untied"])
def test_int8_replaces_linears_keeps_logits_close_and_shrinks(tiny_dirs, kind):
    model = _model(tiny_dirs[kind])
    ref = _logp(model)
    report = tq.quantize_model(model, "int8")
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    head = model.get_output_embeddings()
    for m in linears:
        if kind == "tied" and m is head:
            assert not tq.is_quantized(m.weight)  # stays tied to the float embeddings
            assert head.weight is model.get_input_embeddings().weight
        else:
            assert type(m.weight).__name__ == "Int8Tensor"
    assert not tq.is_quantized(model.get_input_embeddings().weight)
    assert report.recipe.label == "torchao-int8wo"
    assert len(report.quantized) == len(linears) - (kind == "tied")
    assert set(report.kept_float) == ({"lm_head"} if kind == "tied" else set())
    assert report.bytes_after < 0.6 * report.bytes_before
    assert _mean_kl(ref, _logp(model)) < 5e-3  # peaked random logits; the real model: ~1e-4


def test_int4_groups_quantize_and_bound_the_error(tiny_dirs):
    model = _model(tiny_dirs["untied"])
    ref = _logp(model)
    q8 = _model(tiny_dirs["untied"])
    tq.quantize_model(q8, "int8")
    kl8 = _mean_kl(ref, _logp(q8))
    report = tq.quantize_model(model, "int4-g32")
    assert report.recipe.label == "torchao-int4wo-g32"
    assert type(model.model.layers[0].mlp.down_proj.weight).__name__ == "Int4OpaqueTensor"
    assert report.bytes_after < tq.weight_bytes(q8)  # 4 bits + group scales < 8 bits + row scale
    kl4 = _mean_kl(ref, _logp(model))
    assert kl8 < kl4 < 0.5


def test_int4_keeps_layers_the_group_size_does_not_divide(tiny_dirs):
    model = _model(tiny_dirs["untied"])  # hidden 64, intermediate 128
    report = tq.quantize_model(model, tq.QuantRecipe("int4", 128))
    assert report.quantized == ["model.layers.0.mlp.down_proj", "model.layers.1.mlp.down_proj"]
    assert "not a multiple of 128" in report.kept_float["model.layers.0.self_attn.q_proj"]


@pytest.mark.parametrize("spec, hint", [
    ("int3", "int8, int4"), ("Q4_K_M", "llamacpp"), ("int4-g48", "32, 64, 128"),
    ({"method": "gptq", "scheme": "int4"}, "torchao"), ("int4-gx", "int4-g64"),
])
def test_refuses_unknown_schemes(spec, hint):
    with pytest.raises(tq.QuantizationUnsupportedError) as err:
        tq.parse_recipe(spec)
    assert hint in str(err.value)


def test_refusals_with_reasons(tiny_dirs):
    with pytest.raises(tq.QuantizationUnsupportedError, match="no group size"):
        tq.QuantRecipe("int8", 32)
    with pytest.raises(tq.QuantizationUnsupportedError, match="float32 or bfloat16"):
        tq.check_supported(tq.QuantRecipe("int8"), "float16")
    with pytest.raises(tq.QuantizationUnsupportedError, match="safetensors"):
        tq.QuantRecipe("int4", 32, storage="torchao-safetensors")


def test_parse_recipe_forms():
    assert tq.parse_recipe("INT8").label == "torchao-int8wo"
    assert tq.parse_recipe("int4").group_size == 32
    assert tq.parse_recipe("torchao-int4wo-g64") == tq.QuantRecipe("int4", 64)
    assert tq.parse_recipe({"method": "torchao", "scheme": "int4", "group_size": 128}
                           ).lineage == "torchao:int4-weight-only(g128)"


def _answer(engine) -> list[int]:
    req = GenerateRequest(messages=[ChatMessage("user", "Once upon a time")], max_tokens=8,
                          sampling=GREEDY)
    return list(collect(engine.generate(req)).token_ids)


def test_engine_quant_option_reports_quantization(tiny_dirs):
    eng = load_engine(str(tiny_dirs["tied"]), backend="torch", n_ctx=64, n_threads=1,
                      quant="int8")
    try:
        assert eng.info.quantization == "torchao-int8wo"
        assert eng.forward.quant_report.recipe.scheme == "int8"
        assert isinstance(_answer(eng), list)
        with load_engine(str(tiny_dirs["tied"]), backend="torch", n_ctx=64,
                         n_threads=1) as plain:
            assert plain.info.quantization == "F32"
            assert eng.info.size_bytes < 0.6 * plain.info.size_bytes
    finally:
        eng.close()


@pytest.mark.parametrize("scheme", ["int8", "int4"])
def test_recipe_round_trip_through_the_store(tiny_dirs, tmp_path, scheme):
    from slmkit.compress.torch_quant import quantize_torch
    from slmkit.models.store import Store

    store = Store(tmp_path / "home")
    copy = shutil.copytree(tiny_dirs["untied"], tmp_path / "copy")  # add() moves its input
    parent = store.add(copy, "tiny-hf")
    before = sum(f.stat().st_size for f in Path(parent.path).rglob("*"))
    result = quantize_torch("tiny-hf", scheme, store=store)
    assert result.name == f"tiny-torchao-{'int8' if scheme == 'int8' else 'int4-g32'}"
    manifest = store.manifest(result.name)
    assert manifest["parent"] == "tiny-hf"
    assert manifest["method"] == (f"torchao:{scheme}-weight-only" + ("(g32)" if scheme == "int4"
                                                                      else ""))
    recipe = json.loads((store.blob_path(result.name) / tq.RECIPE_FILE).read_text())
    assert recipe["method"] == "torchao" and recipe["scheme"] == scheme
    if scheme == "int8":
        assert recipe["storage"] == "torchao-safetensors"
        assert result.disk_bytes < 0.6 * before  # int8 weights on disk
    else:
        assert recipe["storage"] == "float" and recipe["group_size"] == 32
    ref_eng = load_engine(str(parent.path), backend="torch", n_ctx=64, n_threads=1,
                          quant=scheme)
    expected = _answer(ref_eng)
    ref_eng.close()
    with load_engine(str(store.blob_path(result.name)), backend="torch", n_ctx=64,
                     n_threads=1) as eng:
        assert eng.info.quantization == result.quantization
        assert _answer(eng) == expected  # same weights as quantizing at load
    with pytest.raises(Exception, match="already quantized"):
        quantize_torch(result.name, "int8", store=store, name="again")


def test_stored_int8_cannot_be_loaded_as_int4(tiny_dirs, tmp_path):
    from slmkit.compress.torch_quant import quantize_torch
    from slmkit.models.store import Store

    out = tmp_path / "q8"
    quantize_torch(str(tiny_dirs["tied"]), "int8", store=Store(tmp_path / "home"), output=out)
    with pytest.raises(tq.QuantizationUnsupportedError, match="cannot be re-quantized"):
        load_engine(str(out), backend="torch", n_ctx=64, n_threads=1, quant="int4")
    with load_engine(str(out), backend="torch", n_ctx=64, n_threads=1, quant="int8") as eng:
        assert eng.info.quantization == "torchao-int8wo"


def test_cli_quantize_torch(tiny_dirs, tmp_path, monkeypatch, capsys):
    from slmkit.cli.main import main

    monkeypatch.setenv("SLM_HOME", str(tmp_path / "home"))
    rc = main(["quantize", str(tiny_dirs["tied"]), "--engine", "torch", "--type", "int4",
               "--group-size", "64", "--name", "tiny-q4", "--json"])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    assert out["name"] == "tiny-q4" and out["quantization"] == "torchao-int4wo-g64"
    assert out["kept_float"] == {"lm_head": "tied to the input embeddings"}
    assert main(["quantize", "tiny-q4", "--engine", "torch", "--type", "int8",
                 "--group-size", "32"]) != 0
    assert "no group size" in capsys.readouterr().err
    assert main(["quantize", str(tiny_dirs["tied"]), "--engine", "torch", "--type",
                 "Q4_K_M"]) != 0
    assert "llamacpp" in capsys.readouterr().err


@pytest.mark.integration
def test_real_model_int8_still_knows_paris(default_model_ref, tmp_path):
    from slmkit.compress.torch_quant import quantize_torch
    from slmkit.models.store import Store

    store = Store(tmp_path / "home")  # the GGUF is read in place, never moved
    result = quantize_torch(default_model_ref.path, "int8", store=store, name="smollm2-q8")
    assert result.quantized_linears == 30 * 7  # every projection; tied lm_head kept float
    with load_engine(str(store.blob_path(result.name)), backend="torch", n_ctx=512,
                     n_threads=2) as eng:
        assert eng.info.quantization == "torchao-int8wo"
        req = GenerateRequest(messages=[ChatMessage("system", "Answer briefly and factually."),
                                        ChatMessage("user", "What is the capital of France?")],
                              max_tokens=24, sampling=GREEDY)
        assert "Paris" in collect(eng.generate(req)).text
