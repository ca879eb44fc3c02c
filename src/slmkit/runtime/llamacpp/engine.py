"""The llama.cpp Engine: streaming generation with continuous batching, scoring,
tokenization and embeddings.

The hot loop stays in llama.cpp: one ``llama_decode`` per step for all running sequences
and a C sampler chain per sequence; Python only moves token ids and bytes. ``n_parallel``
slots decode together (see :mod:`.scheduler`); with the default of 1 the engine serves one
request at a time and queues the rest. The KV cache of finished requests is kept, so a
prompt that starts like an earlier one (a chat history, a shared system prompt) only
evaluates its new tokens.

LoRA adapters (llama.cpp adapter GGUFs) are loaded once next to the base
(``adapters={name: path}`` or :meth:`LlamaCppEngine.load_adapter`) and applied per request
(``GenerateRequest.adapter``, or the engine view :meth:`LlamaCppEngine.with_adapter`);
the base is never reloaded.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import threading
import time
from collections.abc import Callable
from collections.abc import Sequence as Seq

from slmkit.core.engine import Capabilities, EngineStats, ModelInfo
from slmkit.core.errors import ContextOverflowError, EngineClosedError, SlmError
from slmkit.core.types import ChatMessage, GenerateRequest, TokenLogprob
from slmkit.core.wrap import EngineWrapper
from slmkit.runtime.chat_template import render_chat
from slmkit.runtime.llamacpp.model import ContextOptions, LlamaModel
from slmkit.runtime.llamacpp.prompt_cache import PromptCache, head_length
from slmkit.runtime.chat_tokens import chat_tokens
from slmkit.runtime.llamacpp.sampler import Sampler, bounded, grammar_for, triggers_for
from slmkit.runtime.llamacpp.scheduler import Scheduler
from slmkit.runtime.llamacpp.sequence import Sequence, SequenceStream
from slmkit.runtime.llamacpp.draft import DraftModel, DraftSpeculator, check_pair
from slmkit.runtime.llamacpp.speculate import Speculator, check_mode
from slmkit.runtime.prompt import fit_context, prompt_ids
from slmkit.settings import get_settings

DEFAULT_QUEUE = 64


def _import_in_background(module: str) -> None:
    """Import ``module`` on a thread, if nothing has yet: it overlaps the model load, which
    runs in C without the GIL, instead of delaying the first answer (cold start)."""
    import sys

    def run() -> None:
        import importlib

        try:
            importlib.import_module(module)
        except ImportError:  # the caller's own import reports it
            pass

    if module not in sys.modules:
        threading.Thread(target=run, daemon=True, name="slm-warm-import").start()


class LlamaCppEngine:
    """``core.Engine`` over a GGUF file. Thread-safe: call it from as many threads as you like.

    ``n_ctx`` is the context of *each* request; the KV cache holds ``n_ctx × n_parallel``
    tokens so every slot can always use its full context. ``max_queue`` requests may wait
    for a slot; one more raises ``QueueFullError``. ``flash_attn`` (default: the
    ``flash_attn`` setting, off): llama.cpp's flash-attention kernel, which on the CPU makes a
    seeded answer depend far less on where its cells sit in the cache (docs/performance.md).
    """

    def __init__(self, path: str, *, name: str | None = None, n_ctx: int = 4096,
                 n_parallel: int = 1, max_queue: int = DEFAULT_QUEUE, n_threads: int = 0,
                 n_batch: int = 512, n_gpu_layers: int | None = None, verbose: bool = False,
                 adapters: dict[str, str] | None = None, speculate: str | None = None,
                 draft: str | None = None, flash_attn: bool | None = None) -> None:
        if n_parallel < 1 or max_queue < 0:
            raise ValueError("n_parallel must be >= 1 and max_queue >= 0")
        self.speculate = check_mode(speculate or ("auto" if draft else
                                                  get_settings().speculate))
        t0 = time.perf_counter()
        _import_in_background("jinja2.sandbox")  # the chat template's; llama.cpp frees the GIL
        self.n_gpu_layers = get_settings().gpu_layers if n_gpu_layers is None else n_gpu_layers
        flash_attn = get_settings().flash_attn if flash_attn is None else flash_attn
        self._model = LlamaModel(path, n_gpu_layers=self.n_gpu_layers, verbose=verbose,
                                 options=ContextOptions(n_ctx=n_ctx * n_parallel,
                                                        n_batch=n_batch, n_seq_max=n_parallel,
                                                        n_threads=n_threads,
                                                        flash_attn=flash_attn))
        self.load_seconds = time.perf_counter() - t0
        self._path, self._verbose = path, verbose
        self.n_ctx_slot = self._model.n_ctx // n_parallel
        cache = None if draft else PromptCache.for_model(self._model)  # a draft keeps its own KV
        self._scheduler = Scheduler(self._model, n_slots=n_parallel, n_ctx_slot=self.n_ctx_slot,
                                    max_queue=max_queue, prompt_cache=cache)
        self._embedder: LlamaModel | None = None
        self._embed_lock = threading.Lock()
        self._closed = False
        self._draft = None
        self.info = self._describe(name or os.path.basename(path), n_parallel)
        try:
            if draft:
                self._draft = self._open_draft(draft, n_parallel)
            for adapter_name, adapter_path in (adapters or {}).items():
                self.load_adapter(adapter_name, adapter_path)
        except BaseException:
            self.close()
            raise

    def _describe(self, name: str, n_parallel: int) -> ModelInfo:
        m = self._model
        d = m.describe()
        return ModelInfo(
            name=name, path=self._path, architecture=d["architecture"], n_params=d["n_params"],
            n_vocab=m.n_vocab, n_ctx=self.n_ctx_slot, n_ctx_train=m.n_ctx_train,
            n_embd=d["n_embd"], quantization=d["quantization"], size_bytes=d["size_bytes"],
            chat_template=m.chat_template(),
            capabilities=Capabilities(logits=True, adapters=True, embed=True, grammar=True,
                                      max_sequences=n_parallel),
        )

    @property
    def n_threads(self) -> int:
        return self._model.n_threads

    def stats(self) -> EngineStats:
        """Slots, busy slots and waiting requests right now (for metrics)."""
        return self._scheduler.stats()

    # ---- LoRA adapters ---------------------------------------------------------------
    def load_adapter(self, name: str, path: str, *, scale: float = 1.0) -> None:
        """Load the llama.cpp LoRA GGUF ``path`` as ``name`` (applied per request)."""
        self._check_open()
        if not name or "+" in name:
            raise ValueError(f"invalid adapter name {name!r} (non-empty, no '+')")
        self._scheduler.call(lambda slot: self._model.load_adapter(name, path, scale))

    @property
    def adapters(self) -> list[str]:
        return self._model.adapters

    def check_adapter(self, name: str | None) -> None:
        if name is not None and name not in self._model.adapters:
            loaded = ", ".join(self._model.adapters) or "none"
            raise UnknownAdapterError(f"no adapter {name!r} is loaded in {self.info.name} "
                                      f"(loaded: {loaded})",
                                      hint="load it with `slm serve BASE --adapter NAME=PATH`")

    def with_adapter(self, name: str, *,
                     on_close: Callable[[], None] | None = None) -> AdapterView:
        """An Engine that is this one with adapter ``name`` applied to every call;
        ``on_close`` runs when the view is closed (e.g. to release the base)."""
        self._check_open()
        self.check_adapter(name)
        return AdapterView(self, name, on_close=on_close)

    # ---- text ------------------------------------------------------------------------
    def tokenize(self, text: str, *, add_special: bool = True) -> list[int]:
        self._check_open()
        return self._model.tokenize(text, add_special=add_special)

    def detokenize(self, tokens: Seq[int]) -> str:
        self._check_open()
        return b"".join(self._model.piece(t) for t in tokens).decode("utf-8", errors="replace")

    def render_chat(self, messages: Seq[ChatMessage], *, add_generation_prompt: bool = True,
                    tools: Seq[dict] | None = None) -> str:
        self._check_open()  # the model's vocabulary is freed by close(): no use after it
        m = self._model
        return render_chat(messages, self.info.chat_template,
                           bos_token=m.token_text(m.bos) if m.bos >= 0 else "",
                           eos_token=m.token_text(m.eos) if m.eos >= 0 else "",
                           add_generation_prompt=add_generation_prompt, tools=tools)

    def prompt_tokens(self, request: GenerateRequest) -> list[int]:
        """The token ids a request's prompt becomes (chat template applied for messages;
        special tokens are parsed in a raw ``prompt`` and in the template, never in message
        text, see :mod:`.prompt`)."""
        self._check_open()
        if request.messages is not None:  # message text never becomes special tokens
            return chat_tokens(self._model, request.messages,
                               functools.partial(self.render_chat, tools=request.tools))
        m = self._model
        return prompt_ids(request, render=functools.partial(self.render_chat,
                                                            tools=request.tools),
                          tokenize=m.tokenize,
                          bos_text=m.token_text(m.bos) if m.bos >= 0 else "")

    # ---- generation ------------------------------------------------------------------
    def generate(self, request: GenerateRequest) -> SequenceStream:
        """Validate, tokenize and queue the request; the returned stream yields its chunks.

        Raises at once (before any chunk) for a bad request, a prompt over the context or a
        full queue. Closing the stream cancels the request and frees its slot."""
        self._check_open()
        request.validate()
        self.check_adapter(request.adapter)
        tokens = fit_context(self.prompt_tokens(request), request, self.n_ctx_slot)
        sampler = Sampler(self._model.vocab, self._model.n_vocab,
                          bounded(request.sampling, self.n_ctx_slot), grammar=grammar_for(request),
                          triggers=triggers_for(request))
        seq = Sequence(request, tokens, sampler, spec=self._speculator(tokens))
        if self._scheduler.prompt_cache is not None and request.messages:
            seq.cache_head = head_length(tokens, request.messages, functools.partial(
                chat_tokens, self._model,
                render=functools.partial(self.render_chat, tools=request.tools)))
        try:
            self._scheduler.submit(seq)
        except BaseException:
            sampler.close()
            raise
        return SequenceStream(seq, self._scheduler.wake)

    def _speculator(self, tokens: list[int]) -> Speculator | None:
        """Drafting for one request: from the draft model when there is one (see
        :mod:`.draft`), else prompt lookup (:mod:`.speculate`); None when off."""
        if self.speculate == "off" or not self._model.can_rollback:
            return None
        if self._draft is not None:
            return DraftSpeculator(tokens, self._draft, self.speculate)
        return Speculator(tokens, self.speculate)

    def _open_draft(self, path: str, n_parallel: int) -> DraftModel:
        draft = DraftModel(path, n_slots=n_parallel, n_ctx_slot=self.n_ctx_slot,
                           n_threads=self._model.n_threads, n_gpu_layers=self.n_gpu_layers,
                           flash_attn=self._model.options.flash_attn)
        try:
            check_pair(self._model, draft.model)
        except BaseException:
            draft.close()
            raise
        return draft

    # ---- scoring ---------------------------------------------------------------------
    def token_logprobs(self, tokens: Seq[int], *, top: int = 0,
                       adapter: str | None = None) -> list[TokenLogprob]:
        """Entry i is log p(tokens[i+1] | tokens[:i+1]); evaluated in one pass on a free slot."""
        self._check_open()
        self.check_adapter(adapter)
        tokens = list(tokens)
        if len(tokens) > self.n_ctx_slot:
            raise ContextOverflowError(len(tokens), self.n_ctx_slot)
        return self._scheduler.call(lambda slot: self._score(slot, tokens, top), adapter=adapter)

    def logits(self, tokens: Seq[int], *, first: int = 0, adapter: str | None = None):
        """Full-vocabulary logits of positions ``first…`` as one array (see .scoring)."""
        from slmkit.runtime.llamacpp.scoring import sequence_logits  # numpy: only when scoring

        return sequence_logits(self, tokens, first=first, adapter=adapter)

    def _score(self, slot, tokens: list[int], top: int) -> list[TokenLogprob]:
        from slmkit.runtime.logprobs import token_logprob  # numpy: only when scoring

        m, step, out = self._model, self._model.n_batch, []
        for lo in range(0, len(tokens), step):
            piece = tokens[lo:lo + step]
            m.decode([(t, lo + i, slot.seq_id, True) for i, t in enumerate(piece)])
            slot.tokens.extend(piece)
            for i in range(len(piece)):
                if lo + i + 1 < len(tokens):
                    out.append(token_logprob(m.token_text, tokens[lo + i + 1], m.logits(i), top))
        return out

    # ---- embeddings ------------------------------------------------------------------
    def embed(self, texts: Seq[str]) -> list[list[float]]:
        """Mean-pooled, L2-normalised hidden states (one vector per text)."""
        import numpy as np

        self._check_open()
        with self._embed_lock:
            em = self._embedding_model()
            vectors = []
            for text in texts:
                toks = em.tokenize(text, add_special=True)[: em.n_batch]
                em.clear()
                em.decode([(t, i, 0, True) for i, t in enumerate(toks)])
                v = em.embedding(0)
                vectors.append((v / max(float(np.linalg.norm(v)), 1e-12)).tolist())
            return vectors

    def _embedding_model(self) -> LlamaModel:
        if self._embedder is None:
            n = min(self.n_ctx_slot, 2048)
            self._embedder = LlamaModel(self._path, ContextOptions(
                n_ctx=n, n_batch=n, n_threads=self._model.n_threads, embeddings=True),
                n_gpu_layers=self.n_gpu_layers, verbose=self._verbose)
        return self._embedder

    # ---- lifecycle -------------------------------------------------------------------
    def _check_open(self) -> None:
        if self._closed:
            raise EngineClosedError(f"engine for {self.info.name} is closed")

    def close(self) -> None:
        self._close(free=True)

    def close_for_exit(self) -> None:
        """Close in a process that exits next (the `slm` command after its verb): requests
        end as with :meth:`close`, but the weights and KV cache are left to the exit to
        free (see ``LlamaModel.leave_to_exit``)."""
        self._close(free=False)

    def _close(self, *, free: bool) -> None:
        if self._closed:
            return
        self._closed = True
        self._scheduler.close()
        with self._embed_lock:
            if free:
                self._model.close()
            else:
                self._model.leave_to_exit()
            if self._embedder is not None:
                self._embedder.close()
            if self._draft is not None:
                self._draft.close()

    def __enter__(self) -> LlamaCppEngine:
        return self

    def __exit__(self, *exc) -> None:
        self.close()



class UnknownAdapterError(SlmError):
    code = "unknown_adapter"


class AdapterView(EngineWrapper):
    """``core.Engine`` over a loaded :class:`LlamaCppEngine` with one LoRA adapter applied:
    every request it generates, scores or evaluates carries ``adapter``. It shares the
    base's weights, KV cache and scheduler; closing the view leaves the base open."""

    def __init__(self, base: LlamaCppEngine, adapter: str, *,
                 on_close: Callable[[], None] | None = None) -> None:
        super().__init__(base, info=dataclasses.replace(base.info,
                                                        name=f"{base.info.name}+{adapter}"))
        self.base, self.adapter, self._on_close = base, adapter, on_close

    def generate(self, request: GenerateRequest) -> SequenceStream:
        return self.base.generate(dataclasses.replace(request, adapter=self.adapter))

    def token_logprobs(self, tokens: Seq[int], *, top: int = 0) -> list[TokenLogprob]:
        return self.base.token_logprobs(tokens, top=top, adapter=self.adapter)

    def logits(self, tokens: Seq[int], *, first: int = 0):
        return self.base.logits(tokens, first=first, adapter=self.adapter)

    def with_adapter(self, name: str, *,
                     on_close: Callable[[], None] | None = None) -> AdapterView:
        """Another adapter on the same base (adapters do not stack)."""
        return self.base.with_adapter(name, on_close=on_close)

    def close(self) -> None:
        """The base engine owns the model; a view only runs its ``on_close`` (once)."""
        callback, self._on_close = self._on_close, None
        if callback is not None:
            callback()

    @property
    def load_seconds(self) -> float:  # the base's (bench, `slm run --verbose`)
        return self.base.load_seconds
