"""torch backend (transformers on CPU): Hugging Face directories and dequantized GGUF files."""

from __future__ import annotations


def load(path: str, **options):
    """Load a model directory or GGUF file into a torch-backed
    :class:`~slmkit.runtime.pyloop.PyLoopEngine` (options: name,
    n_ctx, n_threads, n_batch, dtype, verbose, quant). ``quant`` (``int8``, ``int4``,
    ``int4-g64``, …) applies torchao weight-only quantization right after loading; a
    directory carrying ``slmkit-quant.json`` gets its recipe applied without asking."""
    from slmkit.runtime.torch.engine import open_engine

    return open_engine(path, **options)
