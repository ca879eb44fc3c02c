"""llama.cpp backend (GGUF on CPU, or GPU when llama.cpp was built with one)."""

from __future__ import annotations


def load(path: str, **options):
    """Load a GGUF file into a :class:`LlamaCppEngine` (options: name, n_ctx, n_threads, …)."""
    from slmkit.runtime.llamacpp.engine import LlamaCppEngine

    return LlamaCppEngine(path, **options)


def prepare() -> None:
    """Import the engine's modules (see ``slmkit.runtime.prepare_backend``)."""
    import slmkit.runtime.llamacpp.engine  # noqa: F401
