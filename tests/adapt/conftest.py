"""Tiny random llama models and adapters trained on them, built once per test session."""

from __future__ import annotations

import pytest

from helpers.tiny_adapters import PAIRS, train_adapter, write_jsonl


@pytest.fixture(scope="session", autouse=True)
def _few_threads():
    import torch

    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def tiny(tmp_path_factory):
    """{"hf": dir, "gguf": F32 GGUF, "data": train jsonl} of a tiny random llama model."""
    from helpers.tiny_models import build_model
    from slmkit.convert import hf_to_gguf

    root = tmp_path_factory.mktemp("adapt-tiny")
    hf = build_model(root / "hf", "llama", seed=3)
    gguf = hf_to_gguf(hf, root / "tiny.gguf")
    data = write_jsonl(root / "train.jsonl", [{"prompt": p, "completion": c} for p, c in PAIRS * 2])
    other = write_jsonl(root / "other.jsonl", [{"prompt": p, "completion": "1234567890 numbers"}
                                                for p, _ in PAIRS * 2])
    return {"hf": hf, "gguf": gguf, "data": data, "other": other, "root": root}


@pytest.fixture(scope="session")
def adapters(tiny):
    """Two different trained adapters ("a", "b") on the tiny model, with their GGUFs."""
    from slmkit.adapt.export import export_adapter_gguf

    out = {}
    for name, seed in (("a", 1), ("b", 2)):
        d = tiny["root"] / f"adapter-{name}"
        train_adapter(tiny, d, seed=seed, data="data" if name == "a" else "other")
        out[name] = {"dir": d, "gguf": export_adapter_gguf(d, tiny["hf"], d / "adapter.gguf")}
    return out
