"""``EngineWrapper``: the one delegation base for engines built around another engine
(the RAG engine, the routed engine, the llama.cpp adapter view).

Every method of the :class:`~slmkit.core.engine.Engine` contract is written out here and
forwards to ``inner`` — no ``__getattr__``, so a wrapper's surface is exactly the contract
and a method added to the contract without a forwarder here fails a test. A wrapper
overrides what it changes (usually ``generate``, ``info`` and ``close``) and inherits
the rest. The inner engine guards its own optional methods (``logits``, ``embed``);
``with_adapter`` is also guarded by the wrapper's ``info.capabilities.adapters``, because
an adapter view of the inner engine would bypass the wrapper (RAG and routing declare it
off and get a clear ``UnsupportedOperationError``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from slmkit.core.engine import ChunkStream, Engine, EngineStats, ModelInfo, require
from slmkit.core.types import ChatMessage, GenerateRequest, TokenLogprob


class EngineWrapper:
    """An Engine that forwards every contract method to ``inner``. ``info`` defaults to
    the inner engine's; pass another to rename or to declare different capabilities."""

    def __init__(self, inner: Engine, *, info: ModelInfo | None = None) -> None:
        self.inner = inner
        self.info: ModelInfo = info if info is not None else inner.info

    def generate(self, request: GenerateRequest) -> ChunkStream:
        return self.inner.generate(request)

    def tokenize(self, text: str, *, add_special: bool = True) -> list[int]:
        return self.inner.tokenize(text, add_special=add_special)

    def detokenize(self, tokens: Sequence[int]) -> str:
        return self.inner.detokenize(tokens)

    def prompt_tokens(self, request: GenerateRequest) -> list[int]:
        return self.inner.prompt_tokens(request)

    def token_logprobs(self, tokens: Sequence[int], *, top: int = 0) -> list[TokenLogprob]:
        return self.inner.token_logprobs(tokens, top=top)

    def logits(self, tokens: Sequence[int], *, first: int = 0) -> Any:
        return self.inner.logits(tokens, first=first)

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return self.inner.embed(texts)

    def with_adapter(self, name: str, *, on_close: Callable[[], None] | None = None) -> Engine:
        require(self, "adapters")
        return self.inner.with_adapter(name, on_close=on_close)

    def render_chat(self, messages: Sequence[ChatMessage], *, add_generation_prompt: bool = True,
                    tools: Sequence[dict] | None = None) -> str:
        return self.inner.render_chat(messages, add_generation_prompt=add_generation_prompt,
                                      tools=tools)

    @property
    def n_threads(self) -> int:
        return self.inner.n_threads

    def stats(self) -> EngineStats:
        return self.inner.stats()

    def close(self) -> None:
        self.inner.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()
