"""Backends implementing ``core.Engine``, loaded lazily by name."""

from __future__ import annotations

import importlib

# backend name -> "module:factory". Explicit and lazy: importing slmkit.runtime loads no backend.
BACKENDS: dict[str, str] = {
    "llamacpp": "slmkit.runtime.llamacpp:load",
    "torch": "slmkit.runtime.torch:load",
    "onnx": "slmkit.runtime.onnx:load",
    "remote": "slmkit.runtime.remote:load",
}


def load_engine(path: str, *, backend: str = "llamacpp", **options):
    """Load a model file with the named backend and return a ``core.Engine``."""
    try:
        target = BACKENDS[backend]
    except KeyError:
        raise ValueError(f"unknown backend {backend!r}; known: {', '.join(BACKENDS)}") from None
    module_name, factory = target.split(":")
    return getattr(importlib.import_module(module_name), factory)(path, **options)
