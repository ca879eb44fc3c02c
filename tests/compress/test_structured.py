"""Structured pruning: depth (whole layers) and width (MLP channels) give a genuinely
smaller model with the requested shapes, the same function as the masked original, and a
GGUF that llama.cpp loads with the torch engine's logits; plus one run on the real default
model (depth prune → loads and answers in both engines)."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from helpers.prune_models import calibration_text, tiny_setup  # noqa: E402
from slmkit.compress import structured as S  # noqa: E402
from slmkit.compress import train_io  # noqa: E402
from slmkit.compress.train_io import CompressError  # noqa: E402
from slmkit.runtime import load_engine  # noqa: E402

TEXT = "Paris is the capital of France, and Berlin is the capital of Germany. 1234"


@pytest.fixture(scope="module", autouse=True)
def _threads():
    torch.set_num_threads(1)


def _both_engines_agree(hf_dir, gguf_path, *, rel=1e-3, text=TEXT, n_ctx=128):
    hf = load_engine(str(hf_dir), backend="torch", n_ctx=n_ctx, n_threads=1)
    cpp = load_engine(str(gguf_path), n_ctx=n_ctx, n_threads=1)
    try:
        ids = hf.tokenize(text)
        assert cpp.tokenize(text) == ids
        a, b = hf.logits(ids), cpp.logits(ids)
        assert a.shape == b.shape
        assert np.abs(a - b).max() < rel * np.abs(a).max()
        return a, b
    finally:
        hf.close()
        cpp.close()


@pytest.mark.parametrize("arch", ["llama", "qwen2"])
def test_depth_prune_drops_least_important_layer(tmp_path, arch):
    import gguf

    model_dir, data = tiny_setup(tmp_path, arch, tied=arch == "llama")
    r = S.prune(str(model_dir), str(tmp_path / "out"), mode="depth", ratio=0.5, data=str(data),
                seq_len=32, n_samples=16, gguf_type="f32")
    assert r["layers_before"] == 2 and r["layers_after"] == 1
    assert r["dropped_layers"] == [int(np.argmin(r["importance"]))]
    assert r["parameters_after"] < r["parameters_before"]
    cfg = json.loads((tmp_path / "out/hf/config.json").read_text())
    assert cfg["num_hidden_layers"] == 1
    if "layer_types" in cfg:
        assert len(cfg["layer_types"]) == 1
    reader = gguf.GGUFReader(r["gguf"])
    names = {t.name for t in reader.tensors}
    assert "blk.0.attn_q.weight" in names and not any(n.startswith("blk.1.") for n in names)
    assert int(reader.fields[f"{arch}.block_count"].contents()) == 1
    _both_engines_agree(r["hf_dir"], r["gguf"])


def test_width_prune_shapes_and_function(tmp_path):
    model_dir, data = tiny_setup(tmp_path)
    fm = train_io.load_float(model_dir)
    batches = train_io.token_batches(fm.tokenizer, data.read_text(), seq_len=32, n_samples=16)
    scores = S.channel_importance(fm.model, batches)
    keep = [torch.sort(torch.topk(s, 96).indices).values for s in scores]
    # reference: the original with the dropped channels zeroed in down_proj
    masked = train_io.load_float(model_dir).model
    with torch.no_grad():
        for layer, idx in zip(masked.model.layers, keep):
            drop = torch.ones(128, dtype=torch.bool)
            drop[idx] = False
            layer.mlp.down_proj.weight[:, drop] = 0.0
    r = S.prune_structured(fm.model, "width", 0.25, batches, multiple_of=32)
    assert r["intermediate_after"] == 96 and fm.model.config.intermediate_size == 96
    for layer in fm.model.model.layers:
        assert layer.mlp.gate_proj.weight.shape == (96, 64)
        assert layer.mlp.up_proj.weight.shape == (96, 64)
        assert layer.mlp.down_proj.weight.shape == (64, 96)
    ids = batches[:2]
    with torch.no_grad():
        a, b = fm.model(input_ids=ids).logits, masked(input_ids=ids).logits
    assert torch.allclose(a, b, atol=1e-4, rtol=1e-4)


def test_width_prune_exports_and_loads_in_both_engines(tmp_path):
    import gguf

    model_dir, data = tiny_setup(tmp_path, "llama")
    r = S.prune(str(model_dir), str(tmp_path / "out"), mode="width", ratio=0.5, data=str(data),
                seq_len=32, n_samples=16, gguf_type="f32")
    assert r["intermediate_after"] == 64
    reader = gguf.GGUFReader(r["gguf"])
    assert int(reader.fields["llama.feed_forward_length"].contents()) == 64
    shapes = {t.name: tuple(int(x) for x in t.shape) for t in reader.tensors}
    assert shapes["blk.0.ffn_down.weight"] == (64, 64) and shapes["blk.1.ffn_up.weight"] == (64, 64)
    _both_engines_agree(r["hf_dir"], r["gguf"])


def test_heads_prune_drops_kv_groups(tmp_path, arch="llama"):
    """4 query / 2 KV heads → 2 / 1: the shrunk model computes what the original computes
    with the dropped heads' outputs zeroed, and llama.cpp agrees with torch."""
    import gguf

    model_dir, data = tiny_setup(tmp_path, arch)
    fm = train_io.load_float(model_dir)
    batches = train_io.token_batches(fm.tokenizer, data.read_text(), seq_len=32, n_samples=16)
    keep = [torch.sort(torch.topk(s, 1).indices).values for s in
            S.group_importance(fm.model, batches)]
    masked = train_io.load_float(model_dir).model
    with torch.no_grad():
        for layer, groups in zip(masked.model.layers, keep):
            for g in range(2):
                if g not in groups.tolist():  # query heads 2g, 2g+1 (head_dim 16)
                    layer.self_attn.o_proj.weight[:, g * 32:(g + 1) * 32] = 0.0
    r = S.prune_structured(fm.model, "heads", 0.5, batches)
    assert (r["heads_after"], r["kv_heads_after"]) == (2, 1)
    attn = fm.model.model.layers[0].self_attn
    assert attn.q_proj.weight.shape == (32, 64) and attn.k_proj.weight.shape == (16, 64)
    assert attn.o_proj.weight.shape == (64, 32)
    with torch.no_grad():
        a, b = fm.model(input_ids=batches[:2]).logits, masked(input_ids=batches[:2]).logits
    assert torch.allclose(a, b, atol=1e-4, rtol=1e-4)
    hf, gguf_path = train_io.export(fm.model, fm.source_dir, tmp_path / "out", gguf_type="f32")
    reader = gguf.GGUFReader(str(gguf_path))
    assert int(reader.fields[f"{arch}.attention.head_count"].contents()) == 2
    assert int(reader.fields[f"{arch}.attention.head_count_kv"].contents()) == 1
    _both_engines_agree(hf, gguf_path)


def test_refusals(tmp_path):
    model_dir, data = tiny_setup(tmp_path, "gemma3")
    fm = train_io.load_float(model_dir)
    batches = train_io.token_batches(fm.tokenizer, data.read_text(), seq_len=32, n_samples=4)
    with pytest.raises(CompressError, match="layer pattern"):
        S.prune_structured(fm.model, "depth", 0.2, batches)
    with pytest.raises(CompressError, match="drops no layer"):
        S.prune_structured(train_io.load_float(tiny_setup(tmp_path / "l")[0]).model, "depth",
                           0.1, batches)
    with pytest.raises(ValueError):
        S.prune_structured(fm.model, "rows", 0.2, batches)
    with pytest.raises(CompressError, match="KV groups"):
        S.prune_structured(fm.model, "heads", 0.1, batches)
    qwen = train_io.load_float(tiny_setup(tmp_path / "q", "qwen2")[0]).model
    with pytest.raises(CompressError, match="would not load"):
        S.prune_structured(qwen, "heads", 0.5, batches)
    assert S.kept_channels(1536, 0.25, 32) == 1152 and S.kept_channels(100, 0.99, 32) == 32


def test_cli_structured_registers(tmp_path, monkeypatch, capsys):
    from slmkit.cli.main import main
    from slmkit.models.store import Store

    model_dir, data = tiny_setup(tmp_path)
    monkeypatch.setenv("SLM_HOME", str(tmp_path / "home"))
    rc = main(["prune", str(model_dir), "--structured", "depth", "--ratio", "0.5", "--data",
               str(data), "--seq-len", "32", "--samples", "8", "--type", "f32", "--json"])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    store = Store(tmp_path / "home")
    m = store.manifest(out["name"])
    assert out["name"].endswith("-depth50") and m["method"] == "prune:depth-0.5"
    assert m["gguf"]["architecture"] == "llama"


@pytest.mark.integration
def test_real_model_depth_prune_answers_in_both_engines(default_model_ref, tmp_path):
    """SmolLM2-135M: drop 3 of 30 layers; both engines load the result and answer, with the
    same next-token logits (float32 on both sides)."""
    from helpers.converted import converted
    from slmkit.core.types import GREEDY, GenerateRequest, collect

    hf_src = converted(default_model_ref.path, default_model_ref.sha256)["hf"]
    data = tmp_path / "calib.txt"
    data.write_text(calibration_text() * 3)
    r = S.prune(str(hf_src), str(tmp_path / "out"), mode="depth", ratio=0.1, data=str(data),
                seq_len=128, n_samples=4, gguf_type="f32")
    assert (r["layers_before"], r["layers_after"]) == (30, 27)
    ids_text = "The capital of France is"
    a, b = _both_engines_agree(r["hf_dir"], r["gguf"], rel=2e-3, text=ids_text, n_ctx=256)
    assert (a.argmax(1) == b.argmax(1)).mean() > 0.8
    for path, backend in ((r["gguf"], "llamacpp"), (r["hf_dir"], "torch")):
        eng = load_engine(str(path), backend=backend, n_ctx=256, n_threads=1)
        try:
            done = collect(eng.generate(GenerateRequest(prompt=ids_text, max_tokens=8,
                                                        sampling=GREEDY)))
            assert done.usage.completion_tokens > 0 and done.text.strip(), backend
        finally:
            eng.close()
