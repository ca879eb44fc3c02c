"""`compress.prune.prune_to_store`: a Python caller gets the pruned model registered with its
lineage (GGUF + HF directory), or nothing at all when pruning fails."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")

from helpers.prune_models import tiny_setup  # noqa: E402
from slmkit.compress.prune import PruneSpec, prune_to_store  # noqa: E402
from slmkit.models.gguf_file import read_gguf  # noqa: E402
from slmkit.models.store import ModelExistsError, Store  # noqa: E402


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    import torch

    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("prune-lib")
    model, data = tiny_setup(root)
    store = Store(root / "home")
    store.add(model, "tiny-hf", method="test", kind="directory")
    return store, data


def test_prune_registers_both_with_lineage(setup):
    store, data = setup
    spec = PruneSpec("magnitude", "0.5")
    r = prune_to_store(store, "tiny-hf", spec, name="tiny-mag", data=str(data), n_samples=2,
                       seq_len=32)
    assert r["registered"] and r["name"] == "tiny-mag" and r["hf_name"] == "tiny-mag-hf"
    m, h = store.manifest("tiny-mag"), store.manifest("tiny-mag-hf")
    for man in (m, h):
        assert man["parent"] == "tiny-hf" and man["method"] == "prune:magnitude-0.5"
        assert man["params"]["sparsity"] == "0.5" and man["params"]["seq_len"] == 32
    assert h["kind"] == "directory" and r["hf_dir"] == store.get("tiny-mag-hf").path
    assert read_gguf(store.get("tiny-mag").path).summary()["quantization"] == "F16"
    assert r["gguf"] == store.get("tiny-mag").path
    assert store.verify("tiny-mag") and store.verify("tiny-mag-hf")
    with pytest.raises(ModelExistsError):
        prune_to_store(store, "tiny-hf", spec, name="tiny-mag", data=str(data))


def test_structured_default_name_and_failure_leaves_nothing(setup):
    store, data = setup
    r = prune_to_store(store, "tiny-hf", PruneSpec(structured="depth", ratio=0.5),
                       data=str(data), n_samples=2, seq_len=32)
    assert r["name"] == "tiny-hf-depth50"
    assert store.manifest(r["name"])["method"] == "prune:depth-0.5"
    before = sorted(m.name for m in store.manifests.iterdir())
    with pytest.raises(Exception):  # noqa: B017 - any failure of the pruning itself
        prune_to_store(store, "tiny-hf", PruneSpec("wanda", "0.5"), name="broken",
                       data=str(data.parent / "missing.txt"))
    assert sorted(m.name for m in store.manifests.iterdir()) == before
    assert not store.has("broken") and not store.has("broken-hf")
    assert list(store.tmp.iterdir()) == []


def test_spec_errors_name_the_missing_flag():
    with pytest.raises(ValueError, match="--ratio"):
        PruneSpec(structured="depth").checked("x.txt")
    with pytest.raises(ValueError, match="--sparsity"):
        PruneSpec().checked(None)
    assert PruneSpec(sparsity="2:4").checked(None).method == "wanda"
    assert PruneSpec("wanda", "2:4").default_name("Tiny Model") == "tiny-model-wanda2of4"
