"""`convert.convert_model`: a conversion is registered with its lineage, or written to a path."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("transformers")

from helpers.tiny_models import build_model  # noqa: E402
from slmkit.convert import convert_model, default_name  # noqa: E402
from slmkit.models.gguf_file import read_gguf  # noqa: E402
from slmkit.models.store import Store  # noqa: E402


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("convert-lib")
    st = Store(root / "home")
    st.add(build_model(root / "hf", "llama", seed=5), "tiny-hf", method="test",
           kind="directory")
    return st


def test_hf_to_gguf_and_back_register_lineage(store):
    info = convert_model(store, "tiny-hf", "gguf", out_type="f16")
    assert info["registered"]
    assert info["name"] == "tiny-f16" == default_name("tiny-hf", "gguf", "f16")
    m = store.manifest("tiny-f16")
    assert (m["parent"], m["method"]) == ("tiny-hf", "convert:hf-to-gguf-f16")
    assert m["params"]["to"] == "gguf" and m["params"]["type"] == "f16"
    assert read_gguf(info["path"]).summary()["quantization"] == "F16"
    back = convert_model(store, "tiny-f16", "hf", name="tiny-back")
    mb = store.manifest("tiny-back")
    assert (mb["parent"], mb["method"], mb["kind"]) == ("tiny-f16", "convert:gguf-to-hf",
                                                        "directory")
    assert (Path(back["path"]) / "config.json").is_file()
    assert list(store.tmp.iterdir()) == []


def test_output_path_is_written_not_registered(store, tmp_path):
    out = tmp_path / "x.gguf"
    info = convert_model(store, "tiny-hf", "gguf", output=out)
    assert not info["registered"] and info["name"] is None and info["path"] == str(out)
    assert out.is_file() and not store.has("tiny-f32")


def test_a_failed_conversion_registers_nothing(store):
    with pytest.raises(ValueError, match="already a Hugging Face directory"):
        convert_model(store, "tiny-hf", "hf", name="nope")
    with pytest.raises(ValueError, match="does not apply"):
        convert_model(store, "tiny-hf", "gguf", out_type="int4")
    assert not store.has("nope") and list(store.tmp.iterdir()) == []
