"""Every architecture in the map is complete and consistent: each field set, names unique,
tensor names as gguf-py maps them, every module a spec names present in the transformers
model of that family, and importing the specs imports nothing heavy."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import pytest

from slmkit import arch
from slmkit.arch.base import LAYER_PREFIX, PRUNE_MODES, ArchSpec

SPECS = arch.all_specs()
OPTIONAL = {"check_config", "extra_metadata", "after_gguf_load"}  # callables or None
MAY_BE_EMPTY = {"scale_groups", "prune_refusals", "config_from_gguf"}  # empty is a statement


def test_one_supported_list_from_the_map():
    assert arch.supported() == sorted(arch.ARCHITECTURES)
    assert {"llama", "qwen2", "gemma3"} <= set(arch.supported())
    with pytest.raises(arch.UnsupportedModelError, match="supported: gemma3, llama"):
        arch.get("gpt2")


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_every_field_is_set(spec: ArchSpec):
    assert spec is arch.get(spec.name)
    assert arch.ARCHITECTURES[spec.name] == f"slmkit.arch.{spec.name}"
    for f in dataclasses.fields(spec):
        value = getattr(spec, f.name)
        if f.name in OPTIONAL:
            assert value is None or callable(value), f.name
        elif f.name in MAY_BE_EMPTY:
            assert value is not None, f.name
        elif f.type in ("bool", "float"):
            assert isinstance(value, (bool, float)), f.name
        else:
            assert value, f"{spec.name}.{f.name} is empty"
    assert set(spec.prune_refusals) <= set(PRUNE_MODES)
    assert all(isinstance(r, str) and r for r in spec.prune_refusals.values())


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_names_are_consistent(spec: ArchSpec):
    layer = {k.removeprefix(LAYER_PREFIX) for k in spec.tensors if k.startswith(LAYER_PREFIX)}
    for g in spec.scale_groups:  # every module a group names has a tensor
        assert g.prev_kind in ("norm", "linear")
        assert {g.prev, *g.linears} <= layer, g.name
    assert set(spec.lora_targets) <= {p.rsplit(".", 1)[-1] for p in layer}
    assert len(set(spec.tensors.values())) == len(spec.tensors)  # HF ↔ GGUF is one to one
    for hf in spec.tensors:
        name = hf.replace("{i}", "7") + ".weight"
        assert spec.hf_name(spec.gguf_name(name)) == name
    assert spec.gguf_name("model.layers.0.no_such.weight") is None
    assert all(kind in (int, float) for _, _, kind in spec.hf_metadata)


def test_lookups_are_unambiguous():
    types = arch.hf_model_types()
    assert len(types) == len(set(types))  # no model_type claimed twice
    classes = [c for s in SPECS for c in s.hf_architectures]
    assert len(classes) == len(set(classes))
    for spec in SPECS:
        for t in spec.hf_model_types:
            assert arch.for_hf(t) is spec
        assert arch.find_hf("", list(spec.hf_architectures)) is spec
        assert arch.for_gguf(spec.gguf_arch).gguf_arch == spec.gguf_arch
        if spec.gguf_arch == spec.name:
            assert arch.for_gguf(spec.gguf_arch) is spec
    assert arch.find_hf("gpt2", ["GPT2LMHeadModel"]) is None
    with pytest.raises(arch.UnsupportedModelError, match="'gpt2'.*supported: gemma3"):
        arch.for_hf("gpt2")
    with pytest.raises(arch.UnsupportedModelError, match="falcon"):
        arch.for_gguf("falcon")


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_tensor_names_match_gguf_py(spec: ArchSpec):
    gguf = pytest.importorskip("gguf")
    enum = next(k for k, v in gguf.MODEL_ARCH_NAMES.items() if v == spec.gguf_arch)
    table = gguf.get_tensor_name_map(enum, 4)
    for hf in spec.tensors:
        for suffix in (".weight", ".bias"):
            name = hf.replace("{i}", "3") + suffix
            assert spec.gguf_name(name) == table.get_name(name, try_suffixes=(suffix,)), name


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_spec_covers_the_transformers_model(spec: ArchSpec):
    """Built from the family's own transformers config: every weight has a GGUF name, every
    module a scale group or LoRA target names exists, every metadata key is in the config."""
    pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    from helpers.tiny_arch import tiny_dims

    cfg = transformers.AutoConfig.for_model(spec.hf_model_types[0],
                                            **tiny_dims(vocab_size=64, head_dim=16))
    model = transformers.AutoModelForCausalLM.from_config(cfg)
    assert type(model).__name__ in spec.hf_architectures
    for name, _ in model.named_parameters():
        assert spec.gguf_name(name) is not None, name
    layer = model.get_submodule(spec.decoder_layers)[0]
    for g in spec.scale_groups:
        for path in (g.prev, *g.linears):
            layer.get_submodule(path)
    names = {n.rsplit(".", 1)[-1] for n, _ in layer.named_modules()}
    assert set(spec.lora_targets) <= names
    for _, hf_key, _ in spec.hf_metadata:
        assert hasattr(cfg, hf_key), hf_key
    for key, source in spec.config_from_gguf.items():
        assert hasattr(cfg, key) and hasattr(cfg, source)
    meta = spec.metadata(cfg)
    assert meta["block_count"] == 2 and meta["attention.head_count_kv"] == 2


def test_importing_the_specs_imports_nothing_heavy():
    code = ("import sys, slmkit.arch as a; [a.get(n) for n in a.supported()]; "
            "heavy = {'torch', 'transformers', 'gguf', 'numpy', 'llama_cpp'} & set(sys.modules);"
            "print(sorted(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"
