"""vLLM's OpenAI-compatible server (``vllm serve MODEL``) as an upstream: the remote engine,
plus what a vLLM server adds — LoRA adapters it serves under their own model names
(``vllm serve … --enable-lora --lora-modules NAME=PATH``), chosen per request."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

from slmkit.core.engine import Engine
from slmkit.core.types import GenerateRequest
from slmkit.runtime.remote import RemoteEngine, RetryPolicy
from slmkit.runtime.vllm.engine import UnknownAdapterError


class VllmServerEngine(RemoteEngine):
    """``core.Engine`` over a vLLM server. ``adapters`` are the LoRA names it serves;
    ``GenerateRequest.adapter`` (or :meth:`with_adapter`) sends a request to that name.
    JSON schemas go on as ``response_format``, which vLLM enforces."""

    def __init__(self, base_url: str, *, model: str, adapters: Sequence[str] = (),
                 **options) -> None:
        super().__init__(base_url, model=model, **options)
        self.adapters = list(adapters)
        caps = dataclasses.replace(self.info.capabilities, adapters=bool(self.adapters))
        self.info = dataclasses.replace(self.info, architecture="vllm-server",
                                        capabilities=caps)

    def __repr__(self) -> str:  # no key, no headers
        return f"VllmServerEngine({self.base_url!r}, model={self.model!r})"

    def upstream_model(self, request: GenerateRequest) -> str:
        if request.adapter is None:
            return self.model
        if request.adapter not in self.adapters:
            raise UnknownAdapterError(
                f"no adapter {request.adapter!r} is served by {self.base_url} "
                f"(known: {', '.join(self.adapters) or 'none'})",
                hint="start vLLM with --enable-lora --lora-modules NAME=PATH and list NAME "
                     "in adapters=")
        return request.adapter

    def with_adapter(self, name: str, *, on_close: Callable[[], None] | None = None) -> Engine:
        """The same server, answering as the LoRA model ``name``."""
        self.upstream_model(GenerateRequest(prompt="", adapter=name))  # raises when unknown
        view = VllmServerEngine(self.base_url, model=name, headers=dict(self._headers),
                                n_ctx=self.info.n_ctx, retry=self.retry)
        if on_close is not None:
            close = view.close

            def closing() -> None:
                close()
                on_close()

            view.close = closing
        return view


def open_server(url: str, *, model: str = "", adapters: Sequence[str] = (), n_ctx: int = 0,
                n_threads: int = 0, verbose: bool = False, retries: int | None = None,
                backoff: float | None = None, **options) -> VllmServerEngine:
    """``load_engine(url, backend="vllm", model=NAME)``: ``model`` is the name vLLM serves
    (``--served-model-name``, else the path it was started with)."""
    if retries is not None or backoff is not None:
        options.setdefault("retry", RetryPolicy(max_retries=2 if retries is None else retries,
                                                backoff=0.5 if backoff is None else backoff))
    return VllmServerEngine(url, model=model, adapters=adapters, n_ctx=n_ctx, **options)
