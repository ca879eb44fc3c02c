"""``PyLoopEngine``: the ``core.Engine`` for backends that run a forward pass and leave the
decode loop to Python (torch, onnx).

The engine is composed, not inherited: a backend hands it a :class:`ForwardPass` (the
model's forward pass over a KV cache it owns, plus tokenizer access) and a ``ModelInfo``;
the engine owns everything else — the request checks, the prompt ids and context fit
(:mod:`.prompt`), prefix reuse of the cache, the decode loop, sampling
(:mod:`.sampler`), streaming text with stop strings (:mod:`.textstream`), log-probabilities
(:mod:`.logprobs`) and scoring. So both backends see the same ids, stream the same text and
raise the same errors. One request at a time (calls are serialised by a lock).
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Protocol

import numpy as np

from slmkit.core.engine import Engine, EngineStats, ModelInfo, require
from slmkit.core.errors import ContextOverflowError, EngineClosedError, UnsupportedOperationError
from slmkit.core.types import ChatMessage, Chunk, GenerateRequest, TokenLogprob, Usage
from slmkit.runtime.chat_tokens import chat_tokens
from slmkit.runtime.hfvocab import HFText
from slmkit.runtime.logprobs import log_softmax, scored_logprob, token_logprob
from slmkit.runtime.prompt import fit_context, prompt_ids
from slmkit.runtime.sampler import TokenSampler
from slmkit.runtime.textstream import TextStream
from slmkit.util.text import common_prefix


class ForwardPass(Protocol):
    """One model's forward pass over a KV cache it owns.

    - ``text``: tokenizer access (:class:`~slmkit.runtime.hfvocab.HFText`).
    - ``feed(tokens, n_logits=)``: run ``tokens`` (at most the engine's ``n_batch``) after
      the cached ones and append them to the cache; return the logits of the last
      ``n_logits`` of them as float32 numpy ``[n_logits, n_vocab]`` (``n_logits`` may be
      0). A prompt is fed in pieces (prefill), then one token per step.
    - ``truncate(keep)``: keep only the first ``keep`` cached positions (``keep`` ≥ 1);
      ``False`` when this cache cannot be cut there (the engine then resets it).
    - ``reset()``: empty the cache (also after an interrupted ``feed``).
    - ``embed(tokens)``: a pooled hidden-state vector for ``tokens`` (only called when
      the engine's ``info.capabilities.embed`` is set; independent of the cache).
    - ``close()``: free the model.
    """

    text: HFText

    def feed(self, tokens: Sequence[int], *, n_logits: int) -> np.ndarray: ...

    def truncate(self, keep: int) -> bool: ...

    def reset(self) -> None: ...

    def embed(self, tokens: Sequence[int]) -> np.ndarray: ...

    def close(self) -> None: ...


class PyLoopEngine:
    """``core.Engine`` over a :class:`ForwardPass`; ``backend`` names it in errors.

    ``info.n_ctx`` is the context; ``n_batch`` the most tokens fed in one forward call.
    """

    def __init__(self, forward: ForwardPass, info: ModelInfo, *, backend: str,
                 n_batch: int = 512, n_threads: int = 0, load_seconds: float = 0.0) -> None:
        self.forward, self.info, self.backend = forward, info, backend
        self.text = forward.text
        self.n_ctx = info.n_ctx
        self.n_batch = max(1, n_batch)
        self.n_threads, self.load_seconds = n_threads, load_seconds
        self._lock = threading.Lock()
        self._kv: list[int] = []  # tokens whose keys/values the forward pass holds
        self._closed = False

    def stats(self) -> EngineStats:
        """Empty: requests are answered one at a time, without a queue of its own."""
        return {}

    # ---- text ------------------------------------------------------------------------
    def tokenize(self, text: str, *, add_special: bool = True) -> list[int]:
        self._check_open()
        return self.text.tokenize(text, add_special=add_special)

    def detokenize(self, tokens: Sequence[int]) -> str:
        self._check_open()
        return self.text.vocab.detokenize(tokens)

    def token_text(self, token: int) -> str:
        return self.text.vocab.text(token)

    def render_chat(self, messages: Sequence[ChatMessage], *, add_generation_prompt: bool = True,
                    tools: Sequence[dict] | None = None) -> str:
        self._check_open()
        return self.text.render_chat(messages, self.info.chat_template,
                                     add_generation_prompt=add_generation_prompt, tools=tools)

    def prompt_tokens(self, request: GenerateRequest) -> list[int]:
        """The token ids a request's prompt becomes (chat template applied for messages,
        their text kept as plain text: see :mod:`.chat_tokens`)."""
        render = functools.partial(self.render_chat, tools=request.tools)
        if request.messages is not None and request.prompt_tokens is None:
            self._check_open()
            return chat_tokens(self.text, request.messages, render)
        return prompt_ids(request, render=render, tokenize=self.tokenize,
                          bos_text=self.text.bos_text)

    # ---- generation ------------------------------------------------------------------
    def generate(self, request: GenerateRequest) -> Iterator[Chunk]:
        """Validate and fit the prompt (raising here), then a generator of chunks that holds
        the engine's lock while it runs; closing it ends the request."""
        self._check_open()
        request.validate()
        if (request.grammar is not None or request.json_schema is not None
                or request.tool_calls is not None):
            raise UnsupportedOperationError(f"the {self.backend} engine cannot constrain output "
                                            "with a grammar or JSON schema",
                                            hint="use the llamacpp engine for constrained output")
        if request.adapter is not None:
            raise UnsupportedOperationError(f"the {self.backend} engine has no LoRA adapters",
                                            hint="merge the adapter into the model, or use "
                                                 "the llamacpp engine with --adapter")
        tokens = fit_context(self.prompt_tokens(request), request, self.n_ctx)
        self._check_ids(tokens)
        return self._stream(request, tokens, TokenSampler(request.sampling))

    def _stream(self, request: GenerateRequest, prompt: list[int],
                sampler: TokenSampler) -> Iterator[Chunk]:
        with self._lock:
            try:
                yield from self._run(request, prompt, sampler)
            except BaseException:
                self._reset_cache()  # an interrupted forward may leave the cache half-written
                raise

    def _run(self, request: GenerateRequest, prompt: list[int],
             sampler: TokenSampler) -> Iterator[Chunk]:
        t0 = time.perf_counter()
        cached = self._reuse_prefix(prompt, len(prompt) - 1)
        row = self._feed(prompt[cached:], n_logits=1)[-1]
        usage = Usage(prompt_tokens=len(prompt), cached_tokens=cached)
        stream = TextStream(request.stop)
        limit = request.max_tokens if request.max_tokens is not None else self.n_ctx
        finish, t_first = "length", None
        while usage.completion_tokens < limit:
            token = sampler.sample(row)
            if t_first is None:
                t_first = time.perf_counter()
                usage.prompt_seconds = t_first - t0
            if token in self.text.eog:
                finish = "stop"
                break
            usage.completion_tokens += 1
            text = stream.push(self.text.vocab.piece(token))
            lps = None if request.logprobs is None else (
                token_logprob(self.token_text, token, row, request.logprobs),)
            yield Chunk(text, (token,), lps)
            if stream.stopped:
                finish = "stop"
                break
            if usage.completion_tokens >= limit or len(self._kv) + 1 >= self.n_ctx:
                break
            row = self._feed([token], n_logits=1)[-1]
        if t_first is not None:
            usage.decode_seconds = time.perf_counter() - t_first
        yield Chunk(stream.finish(), finish_reason=finish, usage=usage)

    # ---- the KV cache ----------------------------------------------------------------
    def _reset_cache(self) -> None:
        self.forward.reset()
        self._kv.clear()

    def _reuse_prefix(self, tokens: Sequence[int], limit: int) -> int:
        """Keep at most ``limit`` cached tokens shared with ``tokens``; returns how many."""
        keep = max(0, min(common_prefix(self._kv, tokens), limit))
        if keep < len(self._kv):
            if keep == 0 or not self.forward.truncate(keep):
                self.forward.reset()
                keep = 0
            del self._kv[keep:]
        return keep

    def _feed(self, tokens: Sequence[int], *, n_logits: int) -> np.ndarray:
        """Feed ``tokens`` after the cached ones in ``n_batch`` pieces; the logits of the
        last ``n_logits`` of them, float32 ``[n_logits, n_vocab]``."""
        rows = []
        for lo in range(0, len(tokens), self.n_batch):
            piece = [int(t) for t in tokens[lo:lo + self.n_batch]]
            after = len(tokens) - lo - len(piece)
            want = min(len(piece), max(0, n_logits - after))
            out = self.forward.feed(piece, n_logits=want)
            self._kv.extend(piece)
            if want:
                rows.append(out)
        return np.concatenate(rows) if rows else np.empty((0, self.text.n_vocab), np.float32)

    def _check_ids(self, tokens: Sequence[int]) -> None:
        n = self.text.n_vocab
        bad = [t for t in tokens if not 0 <= int(t) < n]
        if bad:
            raise ValueError(f"token id {bad[0]} is outside the vocabulary (0…{n - 1})")

    # ---- scoring ---------------------------------------------------------------------
    def _score(self, tokens: Sequence[int], first: int) -> np.ndarray:
        """Logits of positions ``first…len(tokens)-1``; reuses a cached prefix."""
        tokens = [int(t) for t in tokens]
        if len(tokens) > self.n_ctx:
            raise ContextOverflowError(len(tokens), self.n_ctx)
        if not 0 <= first < len(tokens):
            raise ValueError(f"first must be in [0, {len(tokens)}), got {first}")
        self._check_ids(tokens)
        with self._lock:
            try:
                cached = self._reuse_prefix(tokens, first)
                return self._feed(tokens[cached:], n_logits=len(tokens) - first)
            except BaseException:
                self._reset_cache()
                raise

    def logits(self, tokens: Sequence[int], *, first: int = 0) -> np.ndarray:
        """Raw next-token logits for positions ``first…len(tokens)-1``, float32
        ``[len(tokens) - first, n_vocab]``; row ``j`` follows ``tokens[:first + j + 1]``."""
        self._check_open()
        return self._score(tokens, first)

    def token_logprobs(self, tokens: Sequence[int], *, top: int = 0) -> list[TokenLogprob]:
        """Entry i is log p(tokens[i+1] | tokens[:i+1])."""
        self._check_open()
        tokens = [int(t) for t in tokens]
        if len(tokens) < 2:
            if len(tokens) > self.n_ctx:
                raise ContextOverflowError(len(tokens), self.n_ctx)
            return []
        logp = log_softmax(self._score(tokens, 0)[:-1])
        return [scored_logprob(self.token_text, tokens[i + 1], logp[i], top)
                for i in range(len(tokens) - 1)]

    # ---- embeddings and adapters -----------------------------------------------------
    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Mean-pooled, L2-normalised final hidden states (one vector per text)."""
        self._check_open()
        require(self, "embed", hint="use the torch or llamacpp engine, or an embedder")
        out = []
        with self._lock:
            for text in texts:
                ids = self.text.tokenize(text)[: self.n_ctx] or [self.text.bos or 0]
                v = np.asarray(self.forward.embed(ids), dtype=np.float64)
                out.append((v / max(float(np.linalg.norm(v)), 1e-12)).tolist())
        return out

    def with_adapter(self, name: str, *, on_close: Callable[[], None] | None = None) -> Engine:
        require(self, "adapters")  # always raises: this engine loads no adapters
        raise AssertionError("unreachable")

    # ---- lifecycle -------------------------------------------------------------------
    def _check_open(self) -> None:
        if self._closed:
            raise EngineClosedError(f"engine for {self.info.name} is closed")

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._kv.clear()
                self.forward.close()

    def __enter__(self) -> PyLoopEngine:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
