"""The Engine contract every backend implements (llama.cpp, torch, onnx, remote) and every
wrapper keeps (RAG, routed, adapter view).

Streaming is the primitive: ``generate`` returns a :class:`ChunkStream`; blocking calls
wrap it with :func:`slmkit.core.types.collect`. Engines are safe to call from one thread at
a time unless ``Capabilities.max_sequences > 1`` says they batch concurrent requests.
What an engine can do beyond the core is declared in :class:`Capabilities`, never probed:
callers check the flag (or :func:`require`) before calling an optional method.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, TypedDict, runtime_checkable

from slmkit.core.errors import UnsupportedOperationError
from slmkit.core.types import ChatMessage, Chunk, GenerateRequest, TokenLogprob


@dataclass(frozen=True)
class Capabilities:
    """What an engine can do besides generating text.

    - ``generate``/``chat``: it generates from prompts / chat messages.
    - ``logprobs``: ``GenerateRequest.logprobs`` is honoured (per-token log-probabilities
      of generated text).
    - ``logits``: :meth:`Engine.logits` returns full-vocabulary logits of every position
      (KL-divergence, fast choice scoring); ``token_logprobs`` works too.
    - ``adapters``: LoRA adapters are loaded next to the base: ``GenerateRequest.adapter``
      and :meth:`Engine.with_adapter` work.
    - ``embed``: :meth:`Engine.embed` returns vectors.
    - ``grammar``: ``GenerateRequest.grammar`` / ``json_schema`` constrain the output.
    - ``max_sequences``: requests decoded at once (more wait in a queue).
    """

    generate: bool = True
    chat: bool = True
    logprobs: bool = True
    logits: bool = False
    adapters: bool = False
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


class EngineStats(TypedDict, total=False):
    """What :meth:`Engine.stats` reports of an engine that schedules requests itself:
    ``slots`` (sequences it decodes at once), ``busy`` (slots decoding now) and ``waiting``
    (requests queued for a slot). Empty for an engine without a scheduler of its own."""

    slots: int
    busy: int
    waiting: int


@runtime_checkable
class ChunkStream(Protocol):
    """What ``Engine.generate`` returns: an iterator of :class:`Chunk` with ``close()``.

    - Iterating yields chunks whose texts concatenate to the answer; exactly one chunk,
      the last, has ``finish_reason`` and ``usage``. An error mid-answer raises from
      ``next()``.
    - ``close()`` cancels the request if it is still running and frees what it holds (a
      batch slot, a KV-cache lock, an HTTP connection); afterwards iteration stops. It is
      idempotent and safe after the stream finished. Always close a stream you stop
      reading early (``contextlib.closing(stream)`` or ``try/finally``).
    - Threads: the llama.cpp and remote streams may be closed from any thread, even while
      another thread waits in ``next()``. A Python generator also satisfies this protocol;
      closing one while another thread is inside its ``next()`` raises ``ValueError``
      (cancel such a stream from the thread that iterates it).
    """

    def __iter__(self) -> Iterator[Chunk]: ...

    def __next__(self) -> Chunk: ...

    def close(self) -> None: ...


@runtime_checkable
class Engine(Protocol):
    """A loaded language model.

    Contracts:

    - ``info`` (:class:`ModelInfo`) describes the model; ``info.capabilities`` says which
      optional methods work.
    - ``generate(request)`` validates the request before returning (bad values raise
      ``ValueError``; a prompt over the context raises ``ContextOverflowError`` unless
      ``request.truncate``; a grammar, adapter or feature the engine lacks raises
      ``UnsupportedOperationError``), then returns a :class:`ChunkStream`. Stop strings
      are never part of the text. Closing the stream early cancels the request.
    - ``tokenize(text, add_special=True)`` adds the model's BOS when it uses one and
      parses special-token text such as ``<|im_start|>``; ``detokenize`` is its inverse
      for text that does not start with a space (special tokens render as nothing).
    - ``prompt_tokens(request)`` is the token ids the request's prompt becomes (chat
      template applied to ``messages``; no second BOS when the template writes one).
    - ``token_logprobs(tokens, top=0)`` scores a sequence: entry ``i`` is
      ``log p(tokens[i+1] | tokens[:i+1])`` (so ``len(tokens) - 1`` entries), with ``top``
      alternatives when asked. Used for perplexity, choice scoring and routing confidence.
    - ``logits(tokens, first=0)`` (when ``capabilities.logits``): raw next-token logits
      of positions ``first…len(tokens)-1`` as a float32 array ``[len(tokens) - first,
      n_vocab]``; row ``j`` is the distribution of the token after
      ``tokens[:first + j + 1]``. Otherwise it raises ``UnsupportedOperationError``.
    - ``embed(texts)`` (when ``capabilities.embed``): one vector per text; otherwise it
      raises ``UnsupportedOperationError``.
    - ``with_adapter(name, on_close=None)`` (when ``capabilities.adapters``): an Engine
      that is this one with the loaded LoRA adapter ``name`` applied to every call;
      closing it runs ``on_close`` and leaves this engine open. Otherwise (or for an
      unknown name) it raises ``UnsupportedOperationError``/``SlmError``.
    - ``render_chat(messages, tools=None)`` renders the model's chat template to a prompt
      string (``tools``: function definitions for templates that describe tools).
    - ``n_threads`` is the number of CPU threads the engine computes with (0 when it
      computes elsewhere, e.g. a remote engine); wrappers report their inner engine's.
    - ``stats()`` (:class:`EngineStats`) is the engine's scheduler occupancy right now, for
      metrics: ``slots``/``busy``/``waiting`` from an engine that queues requests itself
      (llama.cpp), ``{}`` from one that does not (the server then counts its requests).
    - ``close()`` frees the model; it is idempotent, and every other call afterwards
      raises ``EngineClosedError``.
    """

    info: ModelInfo
    n_threads: int

    def generate(self, request: GenerateRequest) -> ChunkStream: ...

    def tokenize(self, text: str, *, add_special: bool = True) -> list[int]: ...

    def detokenize(self, tokens: Sequence[int]) -> str: ...

    def prompt_tokens(self, request: GenerateRequest) -> list[int]: ...

    def token_logprobs(self, tokens: Sequence[int], *, top: int = 0) -> list[TokenLogprob]: ...

    def logits(self, tokens: Sequence[int], *, first: int = 0) -> Any: ...

    def embed(self, texts: Sequence[str]) -> list[list[float]]: ...

    def with_adapter(self, name: str, *,
                     on_close: Callable[[], None] | None = None) -> Engine: ...

    def render_chat(self, messages: Sequence[ChatMessage], *, add_generation_prompt: bool = True,
                    tools: Sequence[dict] | None = None) -> str: ...

    def stats(self) -> EngineStats: ...

    def close(self) -> None: ...


def require(engine: Any, capability: str, *, hint: str = "") -> None:
    """Raise ``UnsupportedOperationError`` unless ``engine.info.capabilities.<capability>``
    is set (the guard for the contract's optional methods)."""
    flags = {k: v for k, v in asdict(engine.info.capabilities).items() if isinstance(v, bool)}
    if capability not in flags:  # a typo must not pass silently
        raise ValueError(f"{capability!r} is not a capability; known: {', '.join(flags)}")
    if not flags[capability]:
        raise UnsupportedOperationError(
            f"{engine.info.name} ({type(engine).__name__}) does not support {capability}",
            hint=hint or _HINTS.get(capability, ""))


_HINTS = {
    "logits": "use the llamacpp, torch or onnx engine for full-vocabulary logits",
    "adapters": "use the llamacpp engine with the adapter loaded (--adapter NAME=PATH)",
    "embed": "use an engine or embedder that computes embeddings",
    "grammar": "use the llamacpp engine for constrained output",
}


@runtime_checkable
class Embedder(Protocol):
    """Text → fixed-size vectors (sentence-transformers, a GGUF embedding model, …).

    ``name`` identifies the embedder (a collection records it and refuses another);
    ``dimension`` is the vector size, ``max_tokens`` the longest text it reads, and
    ``n_special`` how many special tokens it adds to each text.
    """

    name: str
    dimension: int
    max_tokens: int
    n_special: int

    def embed(self, texts: Sequence[str]) -> list[list[float]]: ...
