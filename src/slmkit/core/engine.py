"""The Engine contract every backend implements (llama.cpp, torch, onnx, remote, routed).

Streaming is the primitive: ``generate`` yields :class:`Chunk`\\ s; blocking calls wrap it
with :func:`slmkit.core.types.collect`. Engines are safe to call from one thread at a time
unless ``Capabilities.max_sequences > 1`` says they batch concurrent requests.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from slmkit.core.types import ChatMessage, Chunk, GenerateRequest, TokenLogprob


@dataclass(frozen=True)
class Capabilities:
    generate: bool = True
    chat: bool = True
    logprobs: bool = True
    embed: bool = False
    grammar: bool = False
    max_sequences: int = 1


@dataclass(frozen=True)
class ModelInfo:
    """What a loaded model is. ``n_ctx`` is the loaded context; ``n_ctx_train`` the trained one."""

    name: str
    path: str = ""
    architecture: str = ""
    n_params: int = 0
    n_vocab: int = 0
    n_ctx: int = 0
    n_ctx_train: int = 0
    n_embd: int = 0
    quantization: str = ""
    size_bytes: int = 0
    chat_template: str | None = None
    capabilities: Capabilities = field(default_factory=Capabilities)


@runtime_checkable
class Engine(Protocol):
    """A loaded language model.

    Contracts:

    - ``generate(request)`` validates the request before yielding anything (bad values
      raise ``ValueError``; a prompt over the context raises ``ContextOverflowError``
      unless ``request.truncate``), then yields chunks whose texts concatenate to the
      answer. Stop strings are never part of the text. Exactly one chunk, the last, has
      ``finish_reason`` and ``usage``. Closing the iterator early cancels the request and
      frees its resources.
    - ``tokenize(text, add_special=True)`` adds the model's BOS when it uses one and
      parses special-token text such as ``<|im_start|>``; ``detokenize`` is its inverse
      for text that does not start with a space.
    - ``token_logprobs(tokens, top=0)`` scores a sequence: entry ``i`` is
      ``log p(tokens[i+1] | tokens[:i+1])`` (so ``len(tokens) - 1`` entries), with ``top``
      alternatives when asked. Used for perplexity, choice scoring and routing confidence.
    - ``embed(texts)`` returns one vector per text, or raises ``NotImplementedError``
      when ``info.capabilities.embed`` is false.
    - ``render_chat(messages)`` renders the model's chat template to a prompt string.
    - ``close()`` frees the model; it is idempotent.
    """

    info: ModelInfo

    def generate(self, request: GenerateRequest) -> Iterator[Chunk]: ...

    def tokenize(self, text: str, *, add_special: bool = True) -> list[int]: ...

    def detokenize(self, tokens: Sequence[int]) -> str: ...

    def token_logprobs(self, tokens: Sequence[int], *, top: int = 0) -> list[TokenLogprob]: ...

    def embed(self, texts: Sequence[str]) -> list[list[float]]: ...

    def render_chat(self, messages: Sequence[ChatMessage], *,
                    add_generation_prompt: bool = True) -> str: ...

    def close(self) -> None: ...


@runtime_checkable
class Embedder(Protocol):
    """Text → fixed-size vectors (sentence-transformers, a GGUF embedding model, …)."""

    dimension: int
    max_tokens: int

    def embed(self, texts: Sequence[str]) -> list[list[float]]: ...
