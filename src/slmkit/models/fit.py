"""Will this model file run here? Memory estimate for a GGUF file against this machine.

Uses the catalog's arithmetic (KV cache, compute buffer, runtime allowance) with the
file's own shape read from its GGUF header, so it works for any file, catalogued or not.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from slmkit.core.errors import ModelTooLargeError
from slmkit.models import catalog
from slmkit.models.gguf_file import GGUFInfo, read_gguf
from slmkit.models.hardware import Hardware, probe

GiB = 1024**3
SKIP_ENV = "SLM_SKIP_MEMORY_CHECK"


@dataclass(frozen=True)
class FileEstimate:
    weights: int
    kv_cache: int
    overhead: int
    n_ctx: int

    @property
    def total(self) -> int:
        return self.weights + self.kv_cache + self.overhead


def estimate_file(info: GGUFInfo, n_ctx: int) -> FileEstimate:
    """Memory to run a GGUF file with an ``n_ctx`` context (capped at its trained length)."""
    n_ctx = min(n_ctx, info.context_length or n_ctx)
    shape = _shape_entry(info)
    return FileEstimate(weights=info.file_size, kv_cache=catalog.kv_cache_bytes(shape, n_ctx),
                        overhead=catalog.overhead_bytes(shape, n_ctx), n_ctx=n_ctx)


def _shape_entry(info: GGUFInfo) -> catalog.CatalogEntry:
    n_embd = info.embedding_length or 0
    n_head = info.head_count or 1
    head_dim = int(info.metadata.get(f"{info.architecture}.attention.key_length")
                   or (n_embd // n_head if n_head else 0))
    return catalog.CatalogEntry(
        name=info.model_name or os.path.basename(info.path), family="", params=info.parameter_count,
        context_length=info.context_length or 0, licence="", n_layers=info.block_count or 0,
        n_heads=n_head, n_kv_heads=info.head_count_kv or n_head, head_dim=head_dim,
        vocab_size=info.vocab_size or 0, use="")


def check_fits(path: str, *, n_ctx: int, n_parallel: int = 1,
               hardware: Hardware | None = None) -> FileEstimate:
    """Raise ``ModelTooLargeError`` (estimate + what to try) when the model cannot fit in
    available RAM with ``n_parallel`` sequences of ``n_ctx`` tokens each.
    ``SLM_SKIP_MEMORY_CHECK=1`` skips the check (you know better)."""
    one = estimate_file(read_gguf(path), n_ctx)
    est = FileEstimate(one.weights, one.kv_cache * n_parallel, one.overhead, one.n_ctx)
    from slmkit.settings import get_settings

    if get_settings().skip_memory_check:
        return est
    hw = hardware or probe()
    if est.total <= hw.available_ram:
        return est
    raise ModelTooLargeError(
        f"{os.path.basename(path)} needs about {est.total / GiB:.1f} GiB (weights "
        f"{est.weights / GiB:.1f} + KV cache {est.kv_cache / GiB:.1f} at ctx {est.n_ctx} + "
        f"buffers {est.overhead / GiB:.1f}) but only {hw.available_ram / GiB:.1f} GiB of "
        f"RAM is available", hint=_smaller_hint(hw, n_ctx))


def _smaller_hint(hw: Hardware, n_ctx: int) -> str:
    fitting = catalog.survey(hw, quant="Q4_K_M", n_ctx=n_ctx, only_fitting=True)
    llms = sorted((c for c in fitting if c.entry.kind == "llm"),
                  key=lambda c: c.entry.params, reverse=True)
    names = ", ".join(c.entry.name for c in llms[:3])
    tips = ["a smaller --ctx", "a smaller quantization (Q4_K_M or Q4_0)"]
    if names:
        tips.append(f"a smaller model that fits here at Q4_K_M: {names}")
    return "try " + "; or ".join(tips) + f" (set {SKIP_ENV}=1 to load anyway)"
