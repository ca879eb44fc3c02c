"""Activation-aware calibration on tiny random models: folding keeps the float function,
the search never does worse than no scaling, the simulated blocks match llama.cpp."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from helpers.tiny_models import build_model, config_for
from slmkit.compress import calibrate as cal
from slmkit.compress.blocks import fake_quant, format_for


@pytest.fixture(autouse=True)
def _threads():
    torch.set_num_threads(1)


def _model(arch: str = "llama", n_kv: int | None = None, seed: int = 0):
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    cfg = config_for(arch, 320)
    if n_kv:
        cfg.num_key_value_heads = n_kv
    model = AutoModelForCausalLM.from_config(cfg).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.ndim >= 2:
                p.normal_(0.0, 1.0 if "embed" in name else 0.15)
            elif "norm" in name:
                p.uniform_(0.8, 1.2)
            else:
                p.normal_(0.0, 0.1)
        # uneven channels, as in trained models: a few input channels carry large activations
        for layer in model.model.layers:
            layer.input_layernorm.weight[:4] *= 8
            layer.post_attention_layernorm.weight[-3:] *= 6
    return model


def _logits(model, ids):
    with torch.no_grad():
        return model(input_ids=ids).logits


@pytest.mark.parametrize("arch,n_kv", [("llama", None), ("llama", 4), ("qwen2", None)])
def test_fold_with_any_scale_keeps_outputs(arch, n_kv):
    model = _model(arch, n_kv)
    ids = torch.randint(0, 320, (2, 24), generator=torch.Generator().manual_seed(1))
    before = _logits(model, ids)
    gen = torch.Generator().manual_seed(2)
    groups = cal.groups(model)
    kinds = {g.name.rsplit(".", 1)[1] for g in groups}
    assert {"attn_in", "mlp_in", "down_in"} <= kinds
    assert ("o_in" in kinds) == (n_kv == 4)  # v→o only without grouped-query sharing
    for g in groups:
        n_in = g.linears[0][1].in_features
        cal.fold(g, torch.exp(torch.randn(n_in, generator=gen)))  # scales in ~[0.05, 20]
    after = _logits(model, ids)
    scale = before.abs().max()
    assert float((after - before).abs().max() / scale) < 1e-5
    # and the weights did change: the quantizer now sees different columns
    assert not torch.allclose(model.model.layers[0].self_attn.q_proj.weight,
                              _model(arch, n_kv).model.layers[0].self_attn.q_proj.weight)


def test_calibrate_search_folds_and_never_hurts():
    model = _model("llama")
    ids = torch.randint(0, 320, (4, 64), generator=torch.Generator().manual_seed(3))
    before = _logits(model, ids)
    stats = cal.collect(model, ids, n_sample=128)
    q = stats["model.layers.0.self_attn.q_proj"]
    assert q.sample.shape == (128, 64) and q.n == 4 * 64
    assert stats["lm_head"].sample is None  # outside the decoder layers: statistics only
    result = cal.calibrate(model, stats, "Q4_0")
    assert float((_logits(model, ids) - before).abs().max() / before.abs().max()) < 1e-5
    assert all(result.error_scaled[g] <= result.error_plain[g] for g in result.alphas)
    summary = result.summary()
    # the uneven norm channels make scaling pay somewhere
    assert summary["sample_error_ratio"] < 0.95 and summary["alpha_mean"] > 0
    # imatrix: one entry per quantized linear weight, keyed by GGUF name, sized n_in
    assert result.imatrix["blk.0.attn_q.weight"].shape == (64,)
    assert result.imatrix["blk.1.ffn_down.weight"].shape == (128,)
    assert "output.weight" not in result.imatrix  # tied to the embeddings


def test_imatrix_only_leaves_weights_alone():
    model = _model("llama")
    w = model.model.layers[0].mlp.up_proj.weight.clone()
    ids = torch.randint(0, 320, (2, 32), generator=torch.Generator().manual_seed(4))
    stats = cal.collect(model, ids, n_sample=32)
    result = cal.calibrate(model, stats, "Q4_K_M", awq=False)
    assert torch.equal(model.model.layers[0].mlp.up_proj.weight, w)
    assert not result.alphas and len(result.imatrix) == 2 * 7
    expect = stats["model.layers.0.mlp.up_proj"].sq_mean.numpy()
    np.testing.assert_allclose(result.imatrix["blk.0.ffn_up.weight"], expect, rtol=1e-6)


def test_unsupported_architecture_is_refused():
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_config(config_for("gemma3", 320))
    with pytest.raises(cal.CalibrationError, match="gemma3"):
        cal.groups(model)


def test_format_fallbacks_follow_llama_cpp():
    assert format_for("Q4_K_M", 1536) == "q4_k" and format_for("Q4_K_M", 576) == "q5_0"
    assert format_for("Q6_K", 576) == "q8_0" and format_for("Q4_0", 576) == "q4_0"
    with pytest.raises(ValueError):
        fake_quant(torch.zeros(2, 40), "q4_0")


@pytest.fixture(scope="module")
def tiny_f32(tmp_path_factory):
    from slmkit.convert import hf_to_gguf

    d = tmp_path_factory.mktemp("blocks")
    build_model(d / "hf", seed=5)
    return hf_to_gguf(d / "hf", d / "f32.gguf")


@pytest.mark.parametrize("gguf_type,fmt", [("Q4_0", "q4_0"), ("Q8_0", "q8_0")])
def test_simulated_blocks_match_llama_cpp(tiny_f32, tmp_path, gguf_type, fmt):
    import gguf
    from gguf.quants import dequantize

    from slmkit.compress.quantize import llama_quantize

    out = llama_quantize(tiny_f32, tmp_path / "q.gguf", gguf_type, n_threads=1)
    ref = {t.name: np.array(t.data) for t in gguf.GGUFReader(str(tiny_f32)).tensors}
    compared = 0
    for t in gguf.GGUFReader(str(out)).tensors:
        if t.tensor_type.name.lower() != fmt:
            continue
        real = dequantize(t.data, t.tensor_type).reshape(ref[t.name].shape)
        sim = fake_quant(torch.from_numpy(ref[t.name]), fmt).numpy()
        assert np.abs(real - sim).max() <= 1e-6 * np.abs(ref[t.name]).max(), t.name
        assert np.abs(real - ref[t.name]).max() > 0  # it did quantize
        compared += 1
    assert compared >= 14
