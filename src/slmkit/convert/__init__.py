"""GGUF ⇄ Hugging Face safetensors.

- :func:`gguf_to_hf` — a GGUF file (any quantization transformers can dequantize) → a
  directory transformers and the torch engine load (float32 safetensors, config,
  tokenizer, plus the source's metadata for the way back).
- :func:`hf_to_gguf` — a directory of any architecture in :mod:`slmkit.arch` → GGUF (f32,
  f16 or q8_0) that llama.cpp loads.

Heavy imports (torch, transformers, gguf, llama_cpp) happen inside the functions.
"""

from __future__ import annotations


def gguf_to_hf(src, out_dir, **options):
    """See :func:`slmkit.convert.to_hf.gguf_to_hf`."""
    from slmkit.convert.to_hf import gguf_to_hf as run

    return run(src, out_dir, **options)


def hf_to_gguf(src_dir, out_path, **options):
    """See :func:`slmkit.convert.to_gguf.hf_to_gguf`."""
    from slmkit.convert.to_gguf import hf_to_gguf as run

    return run(src_dir, out_path, **options)


__all__ = ["gguf_to_hf", "hf_to_gguf"]
