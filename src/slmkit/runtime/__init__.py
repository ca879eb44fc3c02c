"""Backends implementing ``core.Engine``, loaded lazily by name, and which one a path needs."""

from __future__ import annotations

import importlib

from slmkit.runtime.detect import detect_backend

# backend name -> "module:factory". Explicit and lazy: importing slmkit.runtime loads no backend.
BACKENDS: dict[str, str] = {
    "llamacpp": "slmkit.runtime.llamacpp:load",
    "torch": "slmkit.runtime.torch:load",
    "onnx": "slmkit.runtime.onnx:load",
    "remote": "slmkit.runtime.remote:load",
    "vllm": "slmkit.runtime.vllm:load",  # a HF directory on a GPU host, or a vLLM server URL
    "bedrock": "slmkit.runtime.bedrock:load",
    "sagemaker": "slmkit.runtime.sagemaker:load",
}
# Backends that decode several sequences at once and take ``n_parallel``/``max_queue``;
# the others serve one request at a time (their ``generate`` waits for the engine).
BATCHING_BACKENDS = frozenset({"llamacpp"})
# Backends that open a local file or directory (``remote`` opens a URL; ``vllm`` either).
LOCAL_BACKENDS = ("llamacpp", "torch", "onnx", "vllm")
# Backends whose path is a URL, a model id or an endpoint name, not a local file.
REMOTE_BACKENDS = ("remote", "bedrock", "sagemaker")
# Backends that switch LoRA adapters per request (``adapters={name: path}`` at load).
ADAPTER_BACKENDS = frozenset({"llamacpp", "vllm"})

__all__ = ["ADAPTER_BACKENDS", "BACKENDS", "BATCHING_BACKENDS", "LOCAL_BACKENDS", "REMOTE_BACKENDS",
           "detect_backend", "load_engine", "prepare_backend", "split_upstream"]


def split_upstream(spec: str) -> tuple[str, str]:
    """An upstream spec → (backend, path): ``bedrock:MODEL_ID`` → ("bedrock", MODEL_ID),
    ``sagemaker:ENDPOINT`` → ("sagemaker", ENDPOINT), a URL → ("remote", URL)."""
    for backend in ("bedrock", "sagemaker"):
        if spec.startswith(backend + ":"):
            target = spec[len(backend) + 1:]
            if not target:
                raise ValueError(f"{spec!r}: name the {backend} "
                                 f"{'model id' if backend == 'bedrock' else 'endpoint'} "
                                 f"after '{backend}:'")
            return backend, target
    return "remote", spec


def prepare_backend(backend: str) -> None:
    """Import the modules ``backend`` loads with, now: a load started on another thread
    then imports nothing (``slm serve`` loads its first model while its server imports)."""
    module = importlib.import_module(BACKENDS[backend].split(":")[0])
    if hasattr(module, "prepare"):
        module.prepare()


def load_engine(path: str, *, backend: str = "llamacpp", **options):
    """Load a model file with the named backend and return a ``core.Engine``.

    This is the low-level step (a path and a backend you already know); to open a model
    by name, pull spec or path with detection and a memory check, use ``slmkit.load``."""
    try:
        target = BACKENDS[backend]
    except KeyError:
        raise ValueError(f"unknown backend {backend!r}; known: {', '.join(BACKENDS)}") from None
    module_name, factory = target.split(":")
    return getattr(importlib.import_module(module_name), factory)(path, **options)
