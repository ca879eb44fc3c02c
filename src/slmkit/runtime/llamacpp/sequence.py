"""One request's life inside the scheduler: pending tokens, sampling, text, finishing.

A :class:`Sequence` is created on the caller's thread (so bad requests fail there) and
then only touched by the scheduler thread, except ``cancel()`` which any thread may call.
Chunks go to the caller through ``out``, a thread-safe queue read by :class:`SequenceStream`
(the ``core.ChunkStream`` that ``generate`` returns).
"""

from __future__ import annotations

import queue
import time

from slmkit.core.types import Chunk, GenerateRequest, Usage
from slmkit.runtime.textstream import TextStream


class Sequence:
    def __init__(self, request: GenerateRequest, prompt: list[int], sampler,
                 spec=None) -> None:
        self.request, self.prompt, self.sampler = request, prompt, sampler
        self.spec = spec  # a speculate.Speculator, or None: never draft
        self.adapter = request.adapter  # LoRA adapter name, None for the base alone
        self.out: queue.SimpleQueue = queue.SimpleQueue()
        self.slot = None  # set by the scheduler on admission
        self.pending: list[int] = []  # tokens to feed at the next steps
        self.prefilled = False  # the whole prompt is in the cache
        self.cache_head = 0  # leading prompt tokens the prompt cache may keep (see engine)
        self.stream = TextStream(request.stop)
        self.usage = Usage(prompt_tokens=len(prompt))
        self.limit = request.max_tokens
        self.t_submit = time.perf_counter()
        self.deadline = self.t_submit + request.timeout if request.timeout else None
        self.t_admit = self.t_first = 0.0
        self.cancelled = False
        self.done = False

    def cancel(self) -> None:
        """Ask the scheduler to drop this sequence at its next step (any thread)."""
        self.cancelled = True

    # ---- scheduler side ----------------------------------------------------------------
    def admit(self, slot, cached: int) -> None:
        self.slot, self.t_admit = slot, time.perf_counter()
        self.usage.cached_tokens = cached
        self.pending = self.prompt[cached:]

    def take(self, budget: int) -> tuple[list[int], bool]:
        """Up to ``budget`` tokens to feed now, and whether logits are wanted after them."""
        piece = self.pending[:budget]
        del self.pending[:budget]
        return piece, not self.pending

    def on_token(self, model, token: int, row: int, n_ctx_slot: int) -> str | None:
        """Handle one sampled token: emit its text; return a finish reason when done
        (the scheduler frees the slot, then calls :meth:`finish`)."""
        if not self.t_first:
            self.t_first = time.perf_counter()
            self.usage.prompt_seconds = self.t_first - self.t_admit
        self.prefilled = True
        if self.limit is not None and self.usage.completion_tokens >= self.limit:
            return "length"  # max_tokens=0: the prompt is evaluated, nothing is generated
        if model.is_eog(token):
            return "stop"
        self.usage.completion_tokens += 1
        text = self.stream.push(model.piece(token))
        lps = self._logprobs(model, row, token)
        self.out.put(Chunk(text, (token,), lps))
        self.pending = [token]
        if self.spec is not None:
            self.spec.generated(token)
        return self._finish_reason(n_ctx_slot)

    def _finish_reason(self, n_ctx_slot: int) -> str | None:
        if self.stream.stopped:
            return "stop"
        if self.limit is not None and self.usage.completion_tokens >= self.limit:
            return "length"
        if len(self.slot.tokens) + 1 >= n_ctx_slot:
            return "length"
        if self.deadline is not None and time.perf_counter() >= self.deadline:
            return "timeout"
        return None

    def _logprobs(self, model, row: int, token: int):
        n_top = self.request.logprobs
        if n_top is None:
            return None
        from slmkit.runtime.logprobs import token_logprob  # numpy: only when asked for

        return (token_logprob(model.token_text, token, model.logits(row), n_top),)

    def finish(self, reason: str) -> None:
        if self.t_first:
            self.usage.decode_seconds = time.perf_counter() - self.t_first
        if self.spec is not None:
            self.usage.draft_tokens, self.usage.accepted_tokens = (self.spec.drafted,
                                                                   self.spec.accepted)
        tail = self.stream.finish() if reason != "cancelled" else ""
        self.done = True
        self.out.put(Chunk(tail, finish_reason=reason, usage=self.usage))
        self.sampler.close()

    def fail(self, error: BaseException) -> None:
        self.done = True
        self.out.put(error)
        self.sampler.close()

    def expired(self, now: float) -> bool:
        return self.deadline is not None and now >= self.deadline


class SequenceStream:
    """The ``core.ChunkStream`` ``generate`` returns. Closing it (or dropping it) cancels the
    request: the scheduler drops the sequence at its next step and frees the slot."""

    def __init__(self, seq: Sequence, wake) -> None:
        self._seq, self._wake = seq, wake
        self._finished = False

    def __iter__(self) -> SequenceStream:
        return self

    def __next__(self) -> Chunk:
        if self._finished:
            raise StopIteration
        item = self._seq.out.get()
        if isinstance(item, BaseException):
            self._finished = True
            raise item
        if item.finish_reason is not None:
            self._finished = True
        return item

    def close(self) -> None:
        if not self._finished:
            self._finished = True
            self._seq.cancel()
            self._wake()

    def __enter__(self) -> SequenceStream:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass
