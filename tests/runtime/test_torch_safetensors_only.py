"""HF weights are loaded from safetensors only: a directory whose weights are a pickle
(``pytorch_model.bin``) is refused, never unpickled (issue 13: from_pretrained without
use_safetensors=True fell back to the pickle)."""

from __future__ import annotations

import shutil

import pytest

torch = pytest.importorskip("torch")

from helpers.tiny_models import build_model  # noqa: E402
from slmkit.core.errors import InvalidModelFileError  # noqa: E402
from slmkit.runtime.torch.loader import load  # noqa: E402


class _Planted:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        import os

        return (os.makedirs, (self.marker,))


def test_a_pickle_only_model_directory_is_refused(tmp_path):
    good = build_model(tmp_path / "good", "llama")
    bad = tmp_path / "bad"
    shutil.copytree(good, bad)
    state = {k: v for k, v in
             __import__("safetensors.torch", fromlist=["load_file"]).load_file(
                 str(bad / "model.safetensors")).items()}
    marker = tmp_path / "pwned"
    state["evil"] = _Planted(marker)
    (bad / "model.safetensors").unlink()
    torch.save(state, bad / "pytorch_model.bin")
    with pytest.raises(InvalidModelFileError, match="safetensors"):
        load(str(bad))
    assert not marker.exists()
    loaded = load(str(good))  # the safetensors original still loads
    assert loaded is not None
