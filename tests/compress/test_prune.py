"""Unstructured and N:M pruning on tiny random models: exact sparsity and 2:4 pattern, wanda
spares the weights of high-activation inputs, the saved GGUF holds the zeros and loads in
llama.cpp with the torch engine's logits, and the CLI registers the result with lineage."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from helpers.prune_models import tiny_setup  # noqa: E402
from slmkit.compress import prune as P  # noqa: E402
from slmkit.compress import train_io  # noqa: E402


@pytest.fixture(scope="module", autouse=True)
def _threads():
    torch.set_num_threads(1)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return tiny_setup(tmp_path_factory.mktemp("prune"))


def _model_and_batches(model_dir, data):
    fm = train_io.load_float(model_dir)
    return fm.model, train_io.token_batches(fm.tokenizer, data.read_text(), seq_len=32,
                                            n_samples=16)


def test_parse_sparsity():
    assert P.parse_sparsity("0.5") == P.Sparsity(0.5)
    assert P.parse_sparsity("2:4") == P.Sparsity(0.5, 2, 4)
    for bad in ("0", "1.2", "4:4", "0:4", "x"):
        with pytest.raises(ValueError):
            P.parse_sparsity(bad)


@pytest.mark.parametrize("method,sparsity", [("magnitude", "0.5"), ("wanda", "0.5"),
                                             ("wanda", "0.3"), ("magnitude", "2:4"),
                                             ("wanda", "2:4")])
def test_exact_sparsity_and_pattern(tiny, method, sparsity):
    model, batches = _model_and_batches(*tiny)
    embed = model.get_input_embeddings().weight.clone()
    report = P.prune_model(model, P.parse_sparsity(sparsity), method=method, batches=batches)
    sp = P.parse_sparsity(sparsity)
    assert report["pruned_matrices"] == 14  # 2 layers × (q k v o gate up down)
    for name, lin in P.prunable_linears(model).items():
        w = lin.weight
        per_row = method == "wanda" and not sp.structured  # rounded per output row
        expected = (w.shape[0] * round(w.shape[1] * sp.ratio) if per_row
                    else round(w.numel() * sp.ratio))
        assert int((w == 0).sum()) == expected, name
        if sp.structured:
            groups = w.reshape(w.shape[0], -1, 4)
            assert bool(((groups == 0).sum(-1) == 2).all()), name
            assert P.check_pattern(w, 2, 4)
        elif method == "wanda":  # per output row
            assert ((w == 0).sum(1) == round(w.shape[1] * sp.ratio)).all(), name
    assert torch.equal(model.get_input_embeddings().weight, embed)  # embeddings stay dense
    assert report["achieved_sparsity"] == pytest.approx(sp.ratio, abs=0.01)


def test_wanda_spares_inputs_with_large_activations(tiny):
    model, batches = _model_and_batches(*tiny)
    norms = P.input_norms(model, batches)
    name = "model.layers.0.mlp.down_proj"
    lin = dict(model.named_modules())[name]
    # make one input channel dominate: wanda must keep every weight reading it
    hot = int(norms[name].argmin())
    with torch.no_grad():
        lin.weight[:, hot] *= 1e-3   # small weights …
    norms[name][hot] *= 1e6          # … on a huge activation
    w = lin.weight.detach()
    wanda = P.prune_mask(w.abs() * norms[name], P.Sparsity(0.5), per_row=True)
    magnitude = P.prune_mask(w.abs(), P.Sparsity(0.5), per_row=False)
    assert not wanda[:, hot].any()   # wanda keeps them
    assert magnitude[:, hot].all()   # magnitude drops them


def test_prune_writes_gguf_with_zeros_loading_in_both_engines(tiny, tmp_path):
    import gguf

    from slmkit.runtime import load_engine

    model_dir, data = tiny
    r = P.prune(str(model_dir), str(tmp_path / "out"), method="wanda", sparsity="2:4",
                data=str(data), seq_len=32, n_samples=16, gguf_type="f32")
    tensors = {t.name: np.asarray(t.data) for t in gguf.GGUFReader(r["gguf"]).tensors}
    down = tensors["blk.0.ffn_down.weight"]
    assert (down == 0).mean() == pytest.approx(0.5)
    assert (down.reshape(down.shape[0], -1, 4) == 0).sum(-1).min() == 2
    assert (tensors["token_embd.weight"] == 0).mean() < 0.01
    lineage = json.loads((tmp_path / "out/hf/slm-lineage.json").read_text())
    assert lineage["method"] == "prune:wanda-2:4" and lineage["data_sha256"]
    hf = load_engine(r["hf_dir"], backend="torch", n_ctx=128, n_threads=1)
    cpp = load_engine(r["gguf"], n_ctx=128, n_threads=1)
    try:
        ids = hf.tokenize("Paris is the capital of France.")
        a, b = hf.logits(ids), cpp.logits(ids)
        assert np.abs(a - b).max() < 1e-3 * np.abs(a).max()
    finally:
        hf.close()
        cpp.close()


def test_wanda_needs_data(tiny, tmp_path):
    with pytest.raises(ValueError, match="--data"):
        P.prune(str(tiny[0]), str(tmp_path / "o"), method="wanda", sparsity="0.5", data=None)


def test_cli_prune_registers_with_lineage(tiny, tmp_path, monkeypatch, capsys):
    from slmkit.cli.main import main
    from slmkit.models.store import Store

    model_dir, data = tiny
    monkeypatch.setenv("SLM_HOME", str(tmp_path / "home"))
    rc = main(["prune", str(model_dir), "--method", "magnitude", "--sparsity", "0.5",
               "--data", str(data), "--seq-len", "32", "--samples", "16", "--name", "tiny-mag50", "--json"])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    assert out["achieved_sparsity"] == pytest.approx(0.5) and "cpu_speed_note" in out
    store = Store(tmp_path / "home")
    m = store.manifest("tiny-mag50")
    assert m["method"] == "prune:magnitude-0.5" and m["parent"] == out["source"]
    assert m["gguf"]["quantization"] == "F16"
    assert store.manifest("tiny-mag50-hf")["kind"] == "directory"
    # usage errors are caught before any work
    assert main(["prune", str(model_dir), "--structured", "depth"]) == 2
