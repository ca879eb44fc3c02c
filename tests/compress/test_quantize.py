"""`slm quantize` on tiny random models: types, lineage, calibration, refusals, the CLI;
and the real default model through quantize → evaluate → register."""

from __future__ import annotations

import json

import numpy as np
import pytest

from helpers.tiny_models import CORPUS, build_model
from slmkit.compress.quantize import (
    QuantizeError,
    bits_per_weight,
    default_name,
    quantize_model,
    tensor_types,
)
from slmkit.models.store import ModelExistsError, Store

CALIB = " ".join(CORPUS)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A store holding a tiny llama model as a Hugging Face directory (``tiny-hf``)."""
    import torch

    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("qstore")
    st = Store(root / "home")
    src = build_model(root / "tiny-hf", seed=7)
    st.add(src, "tiny-hf", method="test", kind="directory")
    return st


def test_plain_q8_0_registers_lineage(store):
    r = quantize_model("tiny-hf", "q8_0", store=store, threads=1)
    assert r.name == "tiny-q8_0" and r.parent == "tiny-hf" and not r.on_grid_source
    man = store.manifest("tiny-q8_0")
    assert man["parent"] == "tiny-hf" and man["method"] == "quantize:Q8_0"
    assert r.tensor_types.get("Q8_0", 0) >= 14 and "Q4_0" not in r.tensor_types
    assert 8.0 < r.bits_per_weight < 9.5  # 8.5 for Q8_0 blocks, norms in F32
    with pytest.raises(ModelExistsError, match="already in the store"):
        quantize_model("tiny-hf", "Q8_0", store=store)


def test_calibrated_q4_0_records_data_and_differs(store):
    import gguf

    plain = quantize_model("tiny-hf", "Q4_0", store=store, threads=1)
    cal = quantize_model("tiny-hf", "Q4_0", store=store, calib_text=CALIB, calibrate="corpus",
                         calib_tokens=512, threads=1)
    assert cal.name == "tiny-q4_0-awq"
    man = store.manifest(cal.name)
    assert man["parent"] == "tiny-hf"
    assert man["method"].startswith("quantize:Q4_0+awq+imatrix(data=corpus,sha256=")
    assert ",tokens=512)" in man["method"]
    assert cal.calibration["imatrix_tensors"] == 14
    assert cal.calibration["sample_error_scaled"] <= cal.calibration["sample_error_plain"]
    a = {t.name: np.array(t.data) for t in gguf.GGUFReader(plain.path).tensors}
    b = {t.name: np.array(t.data) for t in gguf.GGUFReader(cal.path).tensors}
    assert any(not np.array_equal(a[k], b[k]) for k in a if k.startswith("blk."))


def test_iq_types_need_calibration_and_bad_types_are_refused(store):
    with pytest.raises(QuantizeError, match="needs an importance matrix") as err:
        quantize_model("tiny-hf", "IQ2_XS", store=store)
    assert "--calibrate" in err.value.hint
    with pytest.raises(QuantizeError, match="unknown GGUF type"):
        quantize_model("tiny-hf", "Q9_9", store=store)
    with pytest.raises(QuantizeError, match="unknown calibration method"):
        quantize_model("tiny-hf", "Q4_0", store=store, calib_text=CALIB, calib_method="gptq")


def test_quantized_source_is_dequantized_and_flagged(store, tmp_path):
    q8 = store.get("tiny-q8_0") if store.has("tiny-q8_0") else quantize_model(
        "tiny-hf", "Q8_0", store=store, threads=1)
    out = tmp_path / "again.gguf"
    r = quantize_model(q8.path if hasattr(q8, "path") else q8, "Q4_0", store=store,
                       output=out, threads=1)
    assert r.on_grid_source and not r.registered and out.is_file()
    assert tensor_types(out).get("Q4_0", 0) >= 14
    assert bits_per_weight(out) < 6


def test_default_names():
    assert default_name("smollm2-135m-instruct-offgrid", "Q4_K_M") == \
        "smollm2-135m-instruct-offgrid-q4_k_m"
    assert default_name("m-f32", "Q8_0", "awq+imatrix") == "m-q8_0-awq"
    assert default_name("m-hf", "Q4_0", "imatrix") == "m-q4_0-imat"


def test_cli_quantize_json(store, monkeypatch, capsys):
    from slmkit.cli.main import main

    monkeypatch.setenv("SLM_HOME", str(store.root))
    assert main(["quantize", "tiny-hf", "--type", "Q5_0", "--name", "tiny-cli",
                 "--threads", "1", "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert got["name"] == "tiny-cli" and got["method"] == "quantize:Q5_0"
    assert Store(store.root).manifest("tiny-cli")["parent"] == "tiny-hf"
    assert main(["quantize", "tiny-hf", "--type", "IQ1_S"]) == 1
    assert "importance matrix" in capsys.readouterr().err


@pytest.mark.integration
def test_real_model_quantize_evaluate_register(default_model_ref, tmp_path):
    """The default model (Q4_1) → F32 → Q8_0, registered with lineage, and close to its
    float form on real text (KLD measured with the evaluate tools)."""
    from helpers.converted import converted
    from slmkit.evaluate import kld
    from slmkit.runtime import load_engine

    conv = converted(default_model_ref.path, default_model_ref.sha256)
    st = Store(tmp_path / "home")
    st.add(conv["hf"], "smol-hf", kind="directory", method="test")
    r = quantize_model("smol-hf", "Q8_0", store=st, threads=2)
    assert st.manifest(r.name)["parent"] == "smol-hf"
    assert 8.4 < r.bits_per_weight < 8.8
    text = " ".join(CORPUS) * 8
    ref_engine = load_engine(str(conv["f32"]), n_ctx=512, n_threads=2)
    try:
        reference = kld.build_reference(ref_engine, text, chunk=256, max_chunks=2)
    finally:
        ref_engine.close()
    engine = load_engine(r.path, n_ctx=512, n_threads=2)
    try:
        res = kld.compare(engine, reference)
    finally:
        engine.close()
    assert res.kld_mean < 0.01 and res.top1_agreement > 0.95
