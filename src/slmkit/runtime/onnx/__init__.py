"""ONNX Runtime backend: directories written by onnxruntime-genai's model builder
(``slm convert MODEL --to onnx``), run with ONNX Runtime GenAI on the CPU."""

from __future__ import annotations

GENAI_CONFIG = "genai_config.json"


def is_onnx_dir(path) -> bool:
    """True for a directory holding an ONNX Runtime GenAI model (``genai_config.json``)."""
    from pathlib import Path

    return (Path(path) / GENAI_CONFIG).is_file()


def load(path: str, **options):
    """Load an ONNX Runtime GenAI directory into an :class:`OnnxEngine` (options: name,
    n_ctx, n_threads, n_batch, verbose)."""
    from slmkit.runtime.onnx.engine import OnnxEngine

    return OnnxEngine(path, **options)
