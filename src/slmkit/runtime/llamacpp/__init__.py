"""llama.cpp backend (GGUF on CPU, or GPU when llama.cpp was built with one)."""

from __future__ import annotations


def load(path: str, **options):
    """Load a GGUF file into a :class:`LlamaCppEngine` (options: name, n_ctx, n_threads, …)."""
    from slmkit.runtime.llamacpp.engine import LlamaCppEngine

    return LlamaCppEngine(path, **options)
