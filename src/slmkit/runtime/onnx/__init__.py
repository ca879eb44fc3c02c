"""ONNX Runtime backend: directories written by onnxruntime-genai's model builder
(``slm convert MODEL --to onnx``), run with ONNX Runtime GenAI on the CPU."""

from __future__ import annotations

from slmkit.runtime.detect import ONNX_CONFIG as GENAI_CONFIG
from slmkit.runtime.detect import is_onnx_dir

__all__ = ["GENAI_CONFIG", "is_onnx_dir", "load"]


def load(path: str, **options):
    """Load an ONNX Runtime GenAI directory into an onnx-backed
    :class:`~slmkit.runtime.pyloop.PyLoopEngine` (options: name, n_ctx, n_threads, n_batch,
    verbose)."""
    from slmkit.runtime.onnx.engine import open_engine

    return open_engine(path, **options)
