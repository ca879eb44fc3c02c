"""`adapt.merge.merge_adapter`: the merged model is registered with the base as parent."""

from __future__ import annotations

import pytest

from slmkit.adapt.merge import merge_adapter
from slmkit.models.gguf_file import read_gguf
from slmkit.models.store import ModelExistsError, Store


def test_merge_registers_with_lineage(tiny, adapters, tmp_path):
    store = Store(tmp_path / "home")
    base = str(tiny["hf"])  # the adapter records the directory it was trained on
    info = merge_adapter(store, base, adapters["a"]["dir"], name="tiny-ft-f32", out_type="F32")
    assert info["name"] == "tiny-ft-f32" and info["parent"] == "hf"
    m = store.manifest("tiny-ft-f32")
    assert m["parent"] == "hf" and m["method"] == "merge:adapter-a+f32"
    assert m["params"]["adapter"] == str(adapters["a"]["dir"].resolve())
    assert m["params"]["type"] == "F32" and m["gguf"]["quantization"] == "F32"
    assert read_gguf(info["path"]).summary()["architecture"] == "llama"
    assert info["path"] == store.get("tiny-ft-f32").path
    with pytest.raises(ModelExistsError):
        merge_adapter(store, base, adapters["a"]["dir"], name="tiny-ft-f32")
    with pytest.raises(ValueError, match="was trained on"):
        store.pull(str(tiny["gguf"]), name="other")
        merge_adapter(store, "other", adapters["a"]["dir"])
    assert list(store.tmp.iterdir()) == []


def test_merge_failure_registers_nothing(tiny, tmp_path):
    store = Store(tmp_path / "home")
    store.pull(str(tiny["gguf"]), name="tiny")
    with pytest.raises(Exception, match="neither a LoRA adapter nor a model directory"):
        merge_adapter(store, "tiny", tmp_path, name="nothing", out_type="F32")
    assert not store.has("nothing") and list(store.tmp.iterdir()) == []
