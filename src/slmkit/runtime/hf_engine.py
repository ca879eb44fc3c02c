"""What the engines that tokenize with a Hugging Face tokenizer and sample in Python (torch,
onnx) share: tokenize/detokenize through :class:`~slmkit.runtime.torch.vocab.Vocab`, chat
rendering, prompt ids, the context fit and the decode loop — so both engines see the same
ids, stream the same text and raise the same errors. Each engine keeps its own forward
pass (``_feed``), KV cache (``_reuse_prefix``, ``_reset_cache``) and log-probabilities."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Sequence

from slmkit.core.errors import ContextOverflowError
from slmkit.core.types import ChatMessage, Chunk, GenerateRequest, Usage
from slmkit.runtime.chat_template import render_chat
from slmkit.runtime.textstream import TextStream


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    """Length of the longest common prefix of two token lists."""
    n, i = min(len(a), len(b)), 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


def default_threads() -> int:
    import psutil

    return max(1, psutil.cpu_count(logical=False) or os.cpu_count() or 1)


class HFEngineMixin:
    """Needs on the engine: ``_tok`` (the HF tokenizer), ``vocab``, ``_add_bos``, ``_bos``,
    ``_eog``, ``info``, ``n_ctx``, ``_lock``, ``_kv`` (cached token ids), ``_check_open()``,
    ``_reuse_prefix(tokens, limit)``, ``_feed(tokens, n_logits=)``,
    ``_step_logprobs(row, token, n_top)`` and ``_reset_cache()``."""

    def tokenize(self, text: str, *, add_special: bool = True) -> list[int]:
        self._check_open()
        ids = self._tok(text, add_special_tokens=False).input_ids
        if add_special and self._add_bos and self._bos is not None:
            return [self._bos, *ids]
        return list(ids)

    def detokenize(self, tokens: Sequence[int]) -> str:
        self._check_open()
        return self.vocab.detokenize(tokens)

    def token_text(self, token: int) -> str:
        return self.vocab.text(token)

    def render_chat(self, messages: Sequence[ChatMessage], *,
                    add_generation_prompt: bool = True) -> str:
        return render_chat(messages, self.info.chat_template,
                           bos_token=self._tok.bos_token or "", eos_token=self._tok.eos_token or "",
                           add_generation_prompt=add_generation_prompt)

    def prompt_tokens(self, request: GenerateRequest) -> list[int]:
        """The token ids a request's prompt becomes (chat template applied for messages)."""
        if request.prompt_tokens is not None:
            return list(request.prompt_tokens)
        text = request.prompt if request.messages is None else self.render_chat(request.messages)
        bos_text = self._tok.bos_token if self._add_bos else ""
        return self.tokenize(text, add_special=not (bos_text and text.startswith(bos_text)))

    def _fit_context(self, tokens: list[int], request: GenerateRequest) -> list[int]:
        """``tokens`` if they leave room in the context; else ContextOverflowError, or the
        tail that leaves room for the answer when ``request.truncate``."""
        if not tokens:
            raise ValueError("the prompt is empty")
        if len(tokens) < self.n_ctx:
            return tokens
        if not request.truncate:
            raise ContextOverflowError(len(tokens), self.n_ctx)
        room = min(request.max_tokens or self.n_ctx // 4, self.n_ctx // 2)
        return tokens[len(tokens) - (self.n_ctx - room):]

    def _stream(self, request: GenerateRequest, prompt: list[int], sampler) -> Iterator[Chunk]:
        with self._lock:
            try:
                yield from self._run(request, prompt, sampler)
            except BaseException:
                self._reset_cache()  # an interrupted forward may leave the cache half-written
                raise

    def _run(self, request: GenerateRequest, prompt: list[int], sampler) -> Iterator[Chunk]:
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
            if token in self._eog:
                finish = "stop"
                break
            usage.completion_tokens += 1
            text = stream.push(self.vocab.piece(token))
            lps = self._step_logprobs(row, token, request.logprobs)
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
