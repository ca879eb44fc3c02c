"""The off-grid reference: grid measurement, rescaling, dithering, and a tiny end-to-end run."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")

from helpers.tiny_models import CORPUS, build_model
from slmkit.compress import reference as R
from slmkit.models.store import Store


def _on_grid(n_blocks: int = 64, seed: int = 0):
    """Weights on a Q4_1-style grid: lo + d·q, q in 0..15 (both ends used)."""
    g = torch.Generator().manual_seed(seed)
    q = torch.randint(0, 16, (n_blocks, 32), generator=g).float()
    q[:, 0], q[:, 1] = 0, 15
    d = torch.rand(n_blocks, 1, generator=g) * 0.05 + 0.01
    lo = torch.randn(n_blocks, 1, generator=g) * 0.1
    return (lo + d * q).reshape(8, -1), d


def test_grid_steps_recover_the_grid():
    w, d = _on_grid()
    lo, step, four = R.grid_steps(w.reshape(-1, 32))
    assert bool(four.all())
    torch.testing.assert_close(step, d, rtol=1e-4, atol=1e-7)
    torch.testing.assert_close(lo, w.reshape(-1, 32).amin(1, keepdim=True))


def test_dither_moves_weights_off_grid_by_at_most_half_a_step():
    w0, d = _on_grid()

    class M(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(w0.clone())

    m = M()
    assert R.grid_offsets({"w": w0}, {"w": m.w})["grid_offset_mean"] < 1e-5
    R.dither(m, seed=0)
    moved = (m.w.detach() - w0).reshape(-1, 32).abs()
    assert bool((moved <= d / 2 + 1e-6).all())  # still in the same grid cell
    got = R.grid_offsets({"w": w0}, {"w": m.w})
    assert 0.2 < got["grid_offset_mean"] < 0.3  # uniform in the cell: 0.25
    assert got["off_grid_share"] > 0.7 and got["weights_changed_share"] > 0.99
    half = M()
    R.dither(half, seed=0, scale=0.5)
    assert bool(((half.w.detach() - w0).reshape(-1, 32).abs() <= d / 4 + 1e-6).all())
    assert 0.1 < R.grid_offsets({"w": w0}, {"w": half.w})["grid_offset_mean"] < 0.15


def test_make_reference_tiny_end_to_end(tmp_path, monkeypatch):
    torch.set_num_threads(1)
    monkeypatch.setenv("SLM_DATA_HOME", str(tmp_path / "data"))
    st = Store(tmp_path / "home")
    st.add(build_model(tmp_path / "tiny-hf", seed=4), "tiny-hf", method="test",
           kind="directory")
    text = tmp_path / "prose.txt"
    text.write_text("\n".join(CORPUS * 4))
    cfg = R.ReferenceConfig(data=str(text), steps=3, seq=32, batch=1, eval_chunks=1, lr=1e-4)
    rep = R.make_reference("tiny-hf", store=st, config=cfg)
    assert rep["name"] == "tiny-hf-offgrid" and not rep["cached"]
    man = st.manifest("tiny-hf-offgrid")
    assert man["parent"] == "tiny-hf" and man["method"] == cfg.method()
    assert st.manifest("tiny-hf-offgrid-hf")["parent"] == "tiny-hf-offgrid"
    # a float source is already off any grid: there are no 4-bit blocks to measure
    assert rep["grid_tensors"] == 0 and rep["weights_changed_share"] > 0.9
    assert rep["ppl_rescaled"] == pytest.approx(rep["ppl_before"], rel=1e-4)  # same function
    assert rep["ppl_after"] > 0 and len(json.dumps(rep)) > 100
    again = R.make_reference("tiny-hf", store=st, config=cfg)
    assert again["cached"] and again["ppl_after"] == rep["ppl_after"]


@pytest.mark.parametrize("arch", ["llama", "qwen2"])
def test_rescale_moves_every_block_off_grid_and_keeps_the_function(tmp_path, arch):
    from transformers import AutoModelForCausalLM

    torch.set_num_threads(1)
    model = AutoModelForCausalLM.from_pretrained(str(build_model(tmp_path / arch, arch)))
    with torch.no_grad():  # put the decoder weights on a 4-bit grid, as a shipped GGUF has
        for name, p in model.named_parameters():
            if p.ndim == 2 and "embed" not in name:
                b = p.data.reshape(-1, 32)
                lo, hi = b.amin(1, keepdim=True), b.amax(1, keepdim=True)
                d = (hi - lo) / 15
                b.copy_(lo + d * ((b - lo) / d).round())
    ids = torch.randint(0, model.config.vocab_size, (2, 24), generator=torch.Generator())
    with torch.no_grad():
        before = model(ids).logits
    original = {k: v.detach().clone() for k, v in model.named_parameters()
                if v.ndim == 2 and "embed" not in k}
    assert R.grid_offsets(original, dict(model.named_parameters()))["grid_offset_mean"] < 1e-4
    assert R.rescale(model, seed=0, spread=0.25) > 0
    with torch.no_grad():
        after = model(ids).logits
    torch.testing.assert_close(after, before, rtol=1e-4, atol=1e-4)  # the same function
    got = R.grid_offsets(original, dict(model.named_parameters()))
    assert got["grid_offset_mean"] > 0.15 and got["off_grid_share"] > 0.5
    assert got["weights_changed_share"] > 0.99


def test_rescale_refuses_an_architecture_it_cannot_fold(tmp_path):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(build_model(tmp_path / "g", "gemma3")))
    with pytest.raises(R.SlmError, match="channel rescaling supports"):
        R.rescale(model)
