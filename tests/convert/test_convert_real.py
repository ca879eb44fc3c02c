"""Conversions of the real default model (SmolLM2-135M, Q4_1): GGUF → HF → GGUF(F32) keeps
the next-token logits in both engines, and a Q8_0 requantization stays close to F32."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from helpers.converted import converted  # noqa: E402
from slmkit.runtime import load_engine  # noqa: E402

pytestmark = pytest.mark.integration
TEXT = ("Aubrey Leon Haines was born to Doris E. and Albert S. Haines on August 30, 1914, in "
        "Portland, Oregon. He graduated from high school in Seattle in 1933.")


@pytest.fixture(scope="module")
def real(default_model_ref):
    import torch

    torch.set_num_threads(2)
    return converted(default_model_ref.path, default_model_ref.sha256)


@pytest.fixture(scope="module")
def torch_hf(real):
    eng = load_engine(str(real["hf"]), backend="torch", n_ctx=512, n_threads=2)
    yield eng
    eng.close()


def test_converted_directory_is_what_transformers_loads(real, torch_hf, engine):
    import json

    cfg = json.loads((real["hf"] / "config.json").read_text())
    assert cfg["model_type"] == "llama" and cfg["num_hidden_layers"] == 30
    assert "quantization_config" not in cfg
    ids = engine.tokenize(TEXT)
    assert torch_hf.tokenize(TEXT) == ids
    assert torch_hf.info.chat_template == engine.info.chat_template


def test_round_trip_logits_agree_in_both_engines(real, torch_hf, engine):
    ids = engine.tokenize(TEXT)
    hf = torch_hf.logits(ids)
    f32 = load_engine(str(real["f32"]), n_ctx=512, n_threads=2)
    try:
        llama_f32 = f32.logits(ids)
    finally:
        f32.close()
    # the same float32 weights in two implementations: differences are summation order only
    assert np.abs(llama_f32 - hf).max() < 2e-3 * np.abs(hf).max()
    assert (llama_f32.argmax(1) == hf.argmax(1)).mean() > 0.97
    # against the original Q4_1 file in llama.cpp (8-bit activations in its kernels): close
    q41 = engine.logits(ids)
    assert np.abs(q41 - hf).max() < 0.1 * np.abs(hf).max()


def test_f32_round_trip_loads_back_in_torch_unchanged(real, torch_hf):
    on_f32 = load_engine(str(real["f32"]), backend="torch", n_ctx=512, n_threads=2)
    try:
        ids = torch_hf.tokenize(TEXT)
        assert np.array_equal(on_f32.logits(ids), torch_hf.logits(ids))
    finally:
        on_f32.close()


def test_q8_0_requantization_is_close_to_f32(real, tmp_path, monkeypatch):
    from slmkit.evaluate import kld

    monkeypatch.setenv("SLM_CACHE_HOME", str(tmp_path))
    text = (TEXT + " ") * 30
    f32 = load_engine(str(real["f32"]), n_ctx=512, n_threads=2)
    try:
        ref = kld.build_reference(f32, text, chunk=256, max_chunks=2, top_k=0)
    finally:
        f32.close()
    q8 = load_engine(str(real["q8_0"]), n_ctx=512, n_threads=2)
    try:
        res = kld.compare(q8, ref)
    finally:
        q8.close()
    assert res.exact and res.kld_mean < 0.01 and res.top1_agreement > 0.9
    assert abs(res.ln_ppl_ratio) < 0.02
