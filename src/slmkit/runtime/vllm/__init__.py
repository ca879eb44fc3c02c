"""The vllm backend: vLLM on an NVIDIA GPU host, in this process or as an upstream server.

    engine = load_engine("out/qwen-hf", backend="vllm", n_ctx=8192)        # in-process
    engine = load_engine("http://gpu-box:8000", backend="vllm", model="qwen")  # its server

In-process (a Hugging Face model directory) it runs vLLM's asynchronous engine
(``AsyncLLM``) on an event loop of its own: continuous batching, token log-probabilities,
JSON-schema output, LoRA adapters per request. Given a URL it talks to vLLM's
OpenAI-compatible server through the remote engine. vLLM is imported only when a model is
opened; without it the load fails with :class:`VllmMissingError` saying how to install it.
"""

from __future__ import annotations

from slmkit.runtime.vllm.api import MISSING_HINT, VllmMissingError

__all__ = ["MISSING_HINT", "VllmMissingError", "is_url", "load"]


def is_url(path: str) -> bool:
    """True for an ``http://``/``https://`` address (vLLM's server), not a model path."""
    return str(path).startswith(("http://", "https://"))


def load(path: str, **options):
    """``load_engine(path, backend="vllm", ...)``: a URL opens vLLM's OpenAI server as an
    upstream (``model=`` its served name; see :func:`~.server.open_server`); a model
    directory runs vLLM in this process (see :func:`~.engine.open_engine`)."""
    if is_url(path):
        from slmkit.runtime.vllm.server import open_server

        return open_server(path, **options)
    from slmkit.runtime.vllm.engine import open_engine

    return open_engine(path, **options)
