"""Mistral, written as a llama GGUF: a tiny random model through convert → quantize → run,
its scale folds and structured prunes; a sliding window llama.cpp would ignore is refused."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from helpers.tiny_arch import (build_tiny, convert_quantize_run, folds_keep_function,  # noqa: E402
                               prunes_load, tiny_dims)
from slmkit.convert import hf_to_gguf  # noqa: E402
from slmkit.convert.to_gguf import UnsupportedModelError  # noqa: E402


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    import torch

    torch.set_num_threads(1)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    cfg = transformers.MistralConfig(sliding_window=None, rope_theta=10000.0, **tiny_dims())
    return build_tiny(tmp_path_factory.mktemp("mistral"), cfg)


def test_convert_quantize_run(tiny, tmp_path):
    from slmkit.models.gguf_file import read_gguf

    got = convert_quantize_run(tiny, tmp_path)
    assert read_gguf(got["f32"]).architecture == "llama"


def test_scale_folds_and_prunes(tiny, tmp_path):
    folds_keep_function(tiny)
    assert prunes_load(tiny, tmp_path) == ["depth", "width", "heads"]


def test_a_sliding_window_is_refused(tmp_path):
    cfg = transformers.MistralConfig(sliding_window=64, **tiny_dims())
    d = build_tiny(tmp_path / "swa", cfg)
    with pytest.raises(UnsupportedModelError, match="sliding_window 64"):
        hf_to_gguf(d, tmp_path / "out.gguf")
