"""Adapter math, merge == adapter-on-base, the exported GGUF in llama.cpp, and requests
with different adapters interleaving on one engine (tiny random llama model)."""

from __future__ import annotations

import threading

import numpy as np
import pytest

TEXT = "The quick brown fox jumps over the lazy dog. Paris is the capital of France."


@pytest.fixture(scope="module")
def tokens(tiny):
    from slmkit.adapt.lora import load_base

    return load_base(tiny["hf"]).tokenizer.encode(TEXT, add_special_tokens=False)


def _torch_logits(tiny, tokens, adapter_dir=None):
    import torch

    from slmkit.adapt.lora import load_adapter, load_base

    model = load_base(tiny["hf"]).model
    if adapter_dir is not None:
        model = load_adapter(model, adapter_dir)
    with torch.no_grad():
        return model(torch.tensor([tokens])).logits[0].numpy()


def test_lora_layer_is_w_plus_scaled_ba(adapters):
    """peft's forward of one adapted projection == W x + (alpha / r) · B A x."""
    import torch
    from safetensors.torch import load_file

    from slmkit.adapt.export import read_adapter

    cfg, _ = read_adapter(adapters["a"]["dir"])
    w = load_file(str(adapters["a"]["dir"] / "adapter_model.safetensors"))
    key = next(k for k in w if "layers.1.self_attn.q_proj.lora_A" in k)
    a, b = w[key], w[key.replace("lora_A", "lora_B")]
    assert float(b.abs().max()) > 1e-3  # training moved B away from its zero init
    from slmkit.adapt.lora import load_adapter, load_base

    model = load_adapter(load_base(adapters["a"]["dir"].parent / "hf").model,
                         adapters["a"]["dir"])
    layer = model.base_model.model.model.layers[1].self_attn.q_proj
    x = torch.randn(3, a.shape[1])
    with torch.no_grad():
        want = x @ layer.base_layer.weight.T + (cfg["lora_alpha"] / cfg["r"]) * (x @ a.T @ b.T)
        assert torch.allclose(layer(x), want, atol=1e-5)


def test_merge_equals_adapter_on_base_in_float(tiny, adapters, tokens, tmp_path):
    from slmkit.adapt.merge import merged_hf

    peft = _torch_logits(tiny, tokens, adapters["a"]["dir"])
    merged_dir = merged_hf(tiny["hf"], adapters["a"]["dir"], tmp_path / "merged")
    import torch

    from slmkit.runtime.torch.loader import load

    with torch.no_grad():
        merged = load(str(merged_dir)).model(torch.tensor([tokens])).logits[0].numpy()
    base = _torch_logits(tiny, tokens)
    assert np.abs(peft - base).max() > 1.0  # the adapter changes the model
    np.testing.assert_allclose(merged, peft, atol=1e-3)


def test_exported_adapter_matches_in_llamacpp(tiny, adapters, tokens, tmp_path):
    """llama.cpp applying the adapter GGUF == peft in torch == the merged F32 GGUF."""
    import gguf

    from slmkit.adapt.merge import merge
    from slmkit.runtime import load_engine

    reader = gguf.GGUFReader(str(adapters["a"]["gguf"]))
    names = {t.name for t in reader.tensors}
    assert "blk.0.attn_q.weight.lora_a" in names and "blk.1.ffn_down.weight.lora_b" in names
    assert bytes(reader.fields["adapter.type"].parts[-1]).decode() == "lora"

    peft = _torch_logits(tiny, tokens, adapters["a"]["dir"])
    merged_gguf = merge(tiny["hf"], adapters["a"]["dir"], tmp_path / "merged.gguf",
                        out_type="F32")
    with load_engine(str(tiny["gguf"]), n_ctx=256, n_threads=1,
                     adapters={"a": str(adapters["a"]["gguf"])}) as eng, \
            load_engine(str(merged_gguf), n_ctx=256, n_threads=1) as merged:
        on_base = eng.logits(tokens, adapter="a")
        plain = eng.logits(tokens)
        np.testing.assert_allclose(on_base, peft, atol=0.05)
        np.testing.assert_allclose(merged.logits(tokens), on_base, atol=0.05)
        np.testing.assert_allclose(plain, _torch_logits(tiny, tokens), atol=0.05)
        assert np.abs(on_base - plain).max() > 1.0
        view = eng.with_adapter("a")
        assert view.info.name.endswith("+a")
        np.testing.assert_allclose(view.logits(tokens), on_base, atol=1e-5)


def _greedy(engine, prompt, adapter=None, n=12):
    from slmkit.core.types import GREEDY, GenerateRequest, collect

    return collect(engine.generate(GenerateRequest(prompt=prompt, max_tokens=n, sampling=GREEDY,
                                                   adapter=adapter))).token_ids


def test_requests_with_different_adapters_interleave(tiny, adapters):
    from slmkit.core.errors import SlmError
    from slmkit.runtime import load_engine

    paths = {k: str(v["gguf"]) for k, v in adapters.items()}
    prompt = "Once upon a time there was"
    want = {}
    for name in (None, "a", "b"):  # references: one engine per adapter, nothing shared
        with load_engine(str(tiny["gguf"]), n_ctx=128, n_threads=1,
                         adapters={name: paths[name]} if name else None) as solo:
            want[name] = _greedy(solo, prompt, name)
    assert len({tuple(v) for v in want.values()}) == 3  # the adapters really differ
    with load_engine(str(tiny["gguf"]), n_ctx=128, n_threads=1, n_parallel=3,
                     adapters=paths) as eng:
        for _ in range(2):  # the second round finds the first round's prompts cached
            got: dict = {}
            threads = [threading.Thread(target=lambda k=k, got=got: got.__setitem__(
                k, _greedy(eng, prompt, k))) for k in (None, "a", "b", "a")]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert got == want
        steps_before = eng._scheduler.steps
        assert _greedy(eng, prompt, "b") == want["b"]  # same prompt, other adapter: no reuse
        assert eng._scheduler.steps > steps_before
        with pytest.raises(SlmError, match="no adapter 'c'"):
            _greedy(eng, prompt, "c")
