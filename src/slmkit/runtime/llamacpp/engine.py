"""The llama.cpp Engine: streaming generation, scoring, tokenization and embeddings.

The hot loop stays in llama.cpp: one ``llama_decode`` per step and a C sampler chain;
Python only moves token ids and bytes. The KV cache of the previous request is kept, so a
prompt that starts like the last one (a chat history, a shared system prompt) only
evaluates its new tokens.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator, Sequence

from slmkit.core.engine import Capabilities, ModelInfo
from slmkit.core.errors import ContextOverflowError, EngineClosedError
from slmkit.core.types import ChatMessage, Chunk, GenerateRequest, TokenLogprob, Usage
from slmkit.runtime.chat_template import render_chat
from slmkit.runtime.llamacpp.logprobs import log_softmax, top_k
from slmkit.runtime.llamacpp.model import ContextOptions, LlamaModel
from slmkit.runtime.llamacpp.sampler import Sampler
from slmkit.runtime.textstream import TextStream

SEQ = 0  # this engine runs one sequence at a time on sequence id 0


def _common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


class LlamaCppEngine:
    """``core.Engine`` over a GGUF file. One request at a time (calls are serialised)."""

    def __init__(self, path: str, *, name: str | None = None, n_ctx: int = 4096,
                 n_threads: int = 0, n_batch: int = 512, n_gpu_layers: int = 0,
                 verbose: bool = False) -> None:
        t0 = time.perf_counter()
        self._model = LlamaModel(path, ContextOptions(n_ctx=n_ctx, n_batch=n_batch,
                                                      n_threads=n_threads),
                                 n_gpu_layers=n_gpu_layers, verbose=verbose)
        self.load_seconds = time.perf_counter() - t0
        self._path, self._verbose = path, verbose
        self._lock = threading.RLock()
        self._kv: list[int] = []  # tokens whose keys/values sit in the cache for SEQ
        self._embedder: LlamaModel | None = None
        self._closed = False
        self.info = self._describe(name or os.path.basename(path))

    def _describe(self, name: str) -> ModelInfo:
        m = self._model
        d = m.describe()
        return ModelInfo(
            name=name, path=self._path, architecture=d["architecture"], n_params=d["n_params"],
            n_vocab=m.n_vocab, n_ctx=m.n_ctx, n_ctx_train=m.n_ctx_train, n_embd=d["n_embd"],
            quantization=d["quantization"], size_bytes=d["size_bytes"],
            chat_template=m.chat_template(),
            capabilities=Capabilities(embed=True, grammar=True, max_sequences=1),
        )

    @property
    def n_threads(self) -> int:
        return self._model.n_threads

    # ---- text ------------------------------------------------------------------------
    def tokenize(self, text: str, *, add_special: bool = True) -> list[int]:
        self._check_open()
        return self._model.tokenize(text, add_special=add_special)

    def detokenize(self, tokens: Sequence[int]) -> str:
        self._check_open()
        return b"".join(self._model.piece(t) for t in tokens).decode("utf-8", errors="replace")

    def render_chat(self, messages: Sequence[ChatMessage], *,
                    add_generation_prompt: bool = True) -> str:
        m = self._model
        return render_chat(messages, self.info.chat_template,
                           bos_token=m.token_text(m.bos) if m.bos >= 0 else "",
                           eos_token=m.token_text(m.eos) if m.eos >= 0 else "",
                           add_generation_prompt=add_generation_prompt)

    def prompt_tokens(self, request: GenerateRequest) -> list[int]:
        """The token ids a request's prompt becomes (chat template applied for messages)."""
        if request.prompt_tokens is not None:
            return list(request.prompt_tokens)
        text = request.prompt if request.messages is None else self.render_chat(request.messages)
        m = self._model
        # A template that writes the BOS text itself must not get a second BOS.
        bos_text = m.token_text(m.bos) if m.bos >= 0 else ""
        add_special = not (bos_text and text.startswith(bos_text))
        return m.tokenize(text, add_special=add_special)

    # ---- generation ------------------------------------------------------------------
    def generate(self, request: GenerateRequest) -> Iterator[Chunk]:
        self._check_open()
        request.validate()
        tokens = self._fit_context(self.prompt_tokens(request), request)
        sampler = Sampler(self._model.vocab, self._model.n_vocab, request.sampling,
                          grammar=request.grammar)
        return self._stream(request, tokens, sampler)

    def _fit_context(self, tokens: list[int], request: GenerateRequest) -> list[int]:
        n_ctx = self._model.n_ctx
        if not tokens:
            raise ValueError("the prompt is empty")
        if len(tokens) < n_ctx:
            return tokens
        if not request.truncate:
            raise ContextOverflowError(len(tokens), n_ctx)
        room = min(request.max_tokens or n_ctx // 4, n_ctx // 2)
        return tokens[len(tokens) - (n_ctx - room):]

    def _stream(self, request: GenerateRequest, prompt: list[int],
                sampler: Sampler) -> Iterator[Chunk]:
        with self._lock:
            try:
                yield from self._run(request, prompt, sampler)
            except Exception:
                # A failed decode may leave the cache out of step with our record of it.
                self._model.clear()
                self._kv.clear()
                raise
            finally:
                sampler.close()

    def _run(self, request: GenerateRequest, prompt: list[int],
             sampler: Sampler) -> Iterator[Chunk]:
        m = self._model
        t0 = time.perf_counter()
        cached = self._reuse_prefix(prompt)
        last_index = self._feed(prompt[cached:], start=cached)
        usage = Usage(prompt_tokens=len(prompt), cached_tokens=cached)
        stream = TextStream(request.stop)
        limit = request.max_tokens if request.max_tokens is not None else m.n_ctx
        finish, t_first = "length", None
        while usage.completion_tokens < limit:
            token = sampler.sample(m.ctx, last_index)
            if t_first is None:
                t_first = time.perf_counter()
                usage.prompt_seconds = t_first - t0
            if m.is_eog(token):
                finish = "stop"
                break
            usage.completion_tokens += 1
            text = stream.push(m.piece(token))
            lps = self._step_logprobs(last_index, token, request.logprobs)
            if stream.stopped:
                finish = "stop"
                yield Chunk(text, (token,), lps)
                break
            yield Chunk(text, (token,), lps)
            if usage.completion_tokens >= limit or len(self._kv) + 1 >= m.n_ctx:
                break
            last_index = self._feed([token], start=len(self._kv))
        if t_first is not None:
            usage.decode_seconds = time.perf_counter() - t_first
        yield Chunk(stream.finish(), finish_reason=finish, usage=usage)

    def _reuse_prefix(self, prompt: list[int]) -> int:
        """Keep the cached tokens shared with ``prompt`` (at least one token is re-fed)."""
        keep = min(_common_prefix(self._kv, prompt), len(prompt) - 1)
        if keep < len(self._kv) and not self._model.forget(SEQ, keep):
            self._model.clear()
            keep = 0
        del self._kv[keep:]
        return keep

    def _feed(self, tokens: list[int], *, start: int, all_logits: bool = False) -> int:
        """Decode ``tokens`` at positions ``start…`` in n_batch pieces; logits for the last
        one (or all, see :meth:`token_logprobs`). Returns the batch index of the last row."""
        m, step = self._model, self._model.n_batch
        for lo in range(0, len(tokens), step):
            piece = tokens[lo:lo + step]
            last = lo + len(piece) == len(tokens)
            rows = [(t, start + lo + i, SEQ, all_logits or (last and i == len(piece) - 1))
                    for i, t in enumerate(piece)]
            m.decode(rows)
            self._kv.extend(piece)
        return len(tokens) - 1 - (len(tokens) - 1) // step * step

    def _step_logprobs(self, index: int, token: int, n_top: int | None):
        if n_top is None:
            return None
        logp = log_softmax(self._model.logits(index))
        return (self._token_logprob(token, logp, n_top),)

    def _token_logprob(self, token: int, logp, n_top: int) -> TokenLogprob:
        text = self._model.token_text
        top = tuple(TokenLogprob(i, text(i), lp) for i, lp in top_k(logp, n_top))
        return TokenLogprob(token, text(token), float(logp[token]), top)

    # ---- scoring ---------------------------------------------------------------------
    def token_logprobs(self, tokens: Sequence[int], *, top: int = 0) -> list[TokenLogprob]:
        """Entry i is log p(tokens[i+1] | tokens[:i+1]); evaluated from scratch in one pass."""
        self._check_open()
        tokens = list(tokens)
        if len(tokens) > self._model.n_ctx:
            raise ContextOverflowError(len(tokens), self._model.n_ctx)
        out: list[TokenLogprob] = []
        with self._lock:
            self._model.clear()
            self._kv.clear()
            step = self._model.n_batch
            for lo in range(0, len(tokens), step):
                piece = tokens[lo:lo + step]
                self._feed(piece, start=lo, all_logits=True)
                for i in range(len(piece)):
                    nxt = lo + i + 1
                    if nxt < len(tokens):
                        logp = log_softmax(self._model.logits(i))
                        out.append(self._token_logprob(tokens[nxt], logp, top))
        return out

    # ---- embeddings ------------------------------------------------------------------
    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Mean-pooled, L2-normalised hidden states (one vector per text)."""
        import numpy as np

        self._check_open()
        with self._lock:
            em = self._embedding_model()
            vectors = []
            for text in texts:
                toks = em.tokenize(text, add_special=True)[: em.n_ctx]
                em.clear()
                em.decode([(t, i, SEQ, True) for i, t in enumerate(toks[: em.n_batch])])
                v = em.embedding(SEQ)
                vectors.append((v / max(float(np.linalg.norm(v)), 1e-12)).tolist())
            return vectors

    def _embedding_model(self) -> LlamaModel:
        if self._embedder is None:
            n = min(self._model.n_ctx, 2048)
            self._embedder = LlamaModel(self._path, ContextOptions(
                n_ctx=n, n_batch=n, n_threads=self._model.n_threads, embeddings=True),
                verbose=self._verbose)
        return self._embedder

    # ---- lifecycle -------------------------------------------------------------------
    def _check_open(self) -> None:
        if self._closed:
            raise EngineClosedError(f"engine for {self.info.name} is closed")

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._model.close()
                if self._embedder is not None:
                    self._embedder.close()

    def __enter__(self) -> LlamaCppEngine:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
