"""The training loop on a tiny model: loss goes down, resume continues exactly, full
fine-tuning and QLoRA run, a full fine-tune converts to GGUF."""

from __future__ import annotations

import math

import pytest
import torch

from helpers.tiny_adapters import train_adapter


def _lora_state(path):
    from safetensors.torch import load_file

    return load_file(str(path / "adapter_model.safetensors"))


def test_resume_continues_where_it_stopped(tiny, tmp_path):
    from slmkit.adapt.train import checkpoints

    straight = train_adapter(tiny, tmp_path / "straight", seed=5, steps=6)
    losses = [h["loss"] for h in straight.history if "loss" in h]
    assert losses[-1] < losses[0] * 0.7
    train_adapter(tiny, tmp_path / "split", seed=5, steps=4, save_every=2)
    assert [p.name for p in checkpoints(tmp_path / "split")] == ["step-2", "step-4"]
    resumed = train_adapter(tiny, tmp_path / "split", seed=5, steps=6, resume=True)
    assert resumed.resumed_from == 4
    assert [h["step"] for h in resumed.history if "loss" in h] == [5, 6]
    a, b = _lora_state(tmp_path / "straight"), _lora_state(tmp_path / "split")
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], atol=1e-5, rtol=1e-4)


def test_resume_refuses_other_settings(tiny, tmp_path):
    train_adapter(tiny, tmp_path / "run", seed=1, steps=2)
    with pytest.raises(ValueError, match="seed=1"):
        train_adapter(tiny, tmp_path / "run", seed=2, steps=3, resume=True)


def test_full_finetune_writes_a_model_that_converts(tiny, tmp_path):
    from slmkit.adapt.merge import merge
    from slmkit.runtime import load_engine

    result = train_adapter(tiny, tmp_path / "full", seed=0, steps=3, method="full", lr=1e-3)
    assert result.trainable_params == result.total_params
    gguf = merge(tiny["hf"], tmp_path / "full", tmp_path / "full.gguf", out_type="F32")
    with load_engine(str(gguf), n_ctx=128, n_threads=1) as eng:
        assert eng.info.n_params > 0
        assert eng.tokenize("Paris", add_special=False)


def test_qlora_trains_on_nf4_or_says_why(tiny, tmp_path):
    from slmkit.adapt.lora import QLoraUnavailableError

    try:
        result = train_adapter(tiny, tmp_path / "q", seed=0, steps=3, method="qlora")
    except QLoraUnavailableError as err:  # a bitsandbytes build without CPU kernels
        assert "bitsandbytes" in str(err) and err.hint
        return
    losses = [h["loss"] for h in result.history if "loss" in h]
    assert all(math.isfinite(loss) for loss in losses) and losses[-1] < losses[0]
    assert (tmp_path / "q" / "adapter_model.safetensors").is_file()


def test_unknown_target_module_is_named(tiny, tmp_path):
    from slmkit.adapt.lora import LoraSettings

    with pytest.raises(ValueError, match="qkv_proj not found.*q_proj"):
        train_adapter(tiny, tmp_path / "x", seed=0, steps=1,
                      lora=LoraSettings(targets=("qkv_proj",)))


class _Planted:
    """Unpickling this runs ``os.makedirs(marker)``: what a hostile checkpoint could do."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        import os

        return (os.makedirs, (self.marker,))


def test_resume_refuses_a_checkpoint_that_would_run_code(tiny, tmp_path):
    """A planted state.pt is refused (weights_only loading) and its payload never runs;
    a genuine checkpoint still resumes (test_resume_continues_where_it_stopped)."""
    train_adapter(tiny, tmp_path / "run", seed=1, steps=2, save_every=2)
    marker = tmp_path / "pwned"
    state = tmp_path / "run" / "checkpoints" / "step-2" / "state.pt"
    torch.save({"model": {}, "step": 2, "evil": _Planted(marker)}, state)
    with pytest.raises(ValueError, match="refus"):
        train_adapter(tiny, tmp_path / "run", seed=1, steps=3, resume=True)
    assert not marker.exists()
