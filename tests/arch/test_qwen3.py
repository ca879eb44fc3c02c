"""Qwen3 (q/k norms, own head_dim): a tiny random model through convert → quantize → run,
its scale folds and every structured prune, on the checks every architecture passes."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from helpers.tiny_arch import (build_tiny, convert_quantize_run, folds_keep_function,  # noqa: E402
                               prunes_load, tiny_dims)


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    import torch

    torch.set_num_threads(1)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    # head_dim 32: n_head × head_dim (128) ≠ hidden (64), as in real Qwen3 checkpoints
    cfg = transformers.Qwen3Config(head_dim=32, rope_theta=10000.0, **tiny_dims())
    return build_tiny(tmp_path_factory.mktemp("qwen3"), cfg)


def test_convert_quantize_run(tiny, tmp_path):
    import gguf

    got = convert_quantize_run(tiny, tmp_path)
    reader = gguf.GGUFReader(str(got["f32"]))
    assert reader.fields["general.architecture"].contents() == "qwen3"
    assert int(reader.fields["qwen3.attention.key_length"].contents()) == 32
    assert {"blk.1.attn_q_norm.weight", "blk.1.attn_k_norm.weight"} <= \
        {t.name for t in reader.tensors}


def test_scale_folds_and_prunes(tiny, tmp_path):
    folds_keep_function(tiny)
    assert prunes_load(tiny, tmp_path) == ["depth", "width", "heads"]
