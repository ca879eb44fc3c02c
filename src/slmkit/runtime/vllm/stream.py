"""One vLLM request as a ``core.ChunkStream``: vLLM's streamed deltas become chunks.

The request runs on the engine's event loop (:mod:`.bridge`); its outputs come through a
thread-safe queue, so ``next()`` and ``close()`` may be called from any thread. Closing
aborts the request in vLLM (its KV-cache blocks are freed at once)."""

from __future__ import annotations

import asyncio
import itertools
import queue
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from slmkit.core.errors import SlmError
from slmkit.core.types import Chunk, GenerateRequest, TokenLogprob, Usage
from slmkit.runtime.textstream import StopMatcher

FINISH_MAP = {"stop": "stop", "length": "length", "abort": "cancelled"}
_END, _CANCELLED, _IDLE = object(), object(), object()
_ids = itertools.count(1)
POLL_SECONDS = 0.05  # how often a waiting next() looks at close() and the deadline


class VllmError(SlmError):
    """vLLM failed while answering a request."""

    code = "vllm_error"


def to_logprob(token_text: Callable[[int], str], token: int, entry: Mapping[int, Any],
               top: int) -> TokenLogprob:
    """A ``TokenLogprob`` from vLLM's ``{token id: Logprob}`` of one position: the token's
    own log-probability and the ``top`` most likely alternatives, most likely first."""
    chosen = entry.get(token)
    value = float(chosen.logprob) if chosen is not None else float("-inf")
    best = sorted(entry.items(), key=lambda kv: -kv[1].logprob)[:top]
    return TokenLogprob(token, token_text(token), value, tuple(
        TokenLogprob(int(k), token_text(int(k)), float(v.logprob)) for k, v in best))


async def _pump(llm, prompt: Sequence[int], params, request_id: str, lora,
                out: queue.Queue) -> None:
    """Feed ``llm.generate``'s outputs into ``out``, then an end marker (or the error)."""
    try:
        async for item in llm.generate({"prompt_token_ids": list(prompt)}, params, request_id,
                                       lora_request=lora):
            out.put(item)
    except asyncio.CancelledError:
        out.put(_CANCELLED)
        raise
    except Exception as err:  # noqa: BLE001 - handed to the reading thread
        out.put(err)
    else:
        out.put(_END)


class VllmStream:
    """The chunks of one request (see the module docstring)."""

    def __init__(self, engine, request: GenerateRequest, prompt: list[int], params,
                 lora=None) -> None:
        self._engine, self._request = engine, request
        self.request_id = f"slm-{request.id}-{next(_ids)}"
        self._queue: queue.Queue = queue.Queue()
        self._t0 = time.perf_counter()
        self._deadline = self._t0 + request.timeout if request.timeout else None
        self._n_prompt, self._n_out, self._cached = len(prompt), 0, 0
        self._t_first = 0.0
        self._closed = self._finished = False
        self._future = engine.loop.submit(_pump(engine.llm, prompt, params, self.request_id,
                                                lora, self._queue))
        self._gen = self._run()

    def __iter__(self) -> Iterator[Chunk]:
        return self

    def __next__(self) -> Chunk:
        if self._closed:
            raise StopIteration
        return next(self._gen)

    def close(self) -> None:
        """Abort the request if it still runs; idempotent, safe from any thread."""
        if self._closed:
            return
        self._closed = True
        self._abort()
        try:
            self._gen.close()
        except ValueError:  # running on another thread, which stops at its next poll
            pass

    def __enter__(self) -> VllmStream:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001, S110 - interpreter shutdown
            pass

    # ---- internals ---------------------------------------------------------------------
    def _abort(self) -> None:
        if self._finished or self._engine.loop.loop.is_closed():
            return
        self._finished = True
        self._future.cancel()
        self._engine.loop.submit(self._engine.llm.abort(self.request_id))

    def _next_item(self):
        """The next output, or ``_IDLE`` once closed or past the deadline."""
        while True:
            if self._closed or self._past_deadline():
                return _IDLE
            try:
                return self._queue.get(timeout=POLL_SECONDS)
            except queue.Empty:
                continue

    def _past_deadline(self) -> bool:
        return self._deadline is not None and time.perf_counter() >= self._deadline

    def _run(self) -> Iterator[Chunk]:
        stop, finish = StopMatcher(self._request.stop), None
        while finish is None:
            item = self._next_item()
            if item is _IDLE:
                if self._closed:
                    return
                self._abort()
                finish = "timeout"
                break
            if item is _CANCELLED:
                return
            if isinstance(item, BaseException):
                self._finished = True
                raise VllmError(f"vLLM failed on request {self.request_id}: {item}") from item
            if item is _END:
                self._finished = True
                raise VllmError(f"vLLM ended request {self.request_id} without finishing")
            chunk, finish = self._chunk(item, stop)
            if finish == "stop" and stop.stopped:
                self._abort()
            if chunk is not None:
                yield chunk
        self._finished = True
        tail = "" if stop.stopped else stop.flush()
        yield Chunk(tail, finish_reason=finish, usage=self._usage())

    def _chunk(self, output, stop: StopMatcher) -> tuple[Chunk | None, str | None]:
        """The chunk for one ``RequestOutput`` (None when it carries nothing) and the finish
        reason when it ends the request."""
        self._cached = int(getattr(output, "num_cached_tokens", 0) or 0)
        part = output.outputs[0]
        ids = tuple(int(t) for t in part.token_ids or ())
        if ids and not self._t_first:
            self._t_first = time.perf_counter()
        self._n_out += len(ids)
        text, stopped = stop.push(part.text or "")
        lps = None
        if self._request.logprobs is not None and part.logprobs:
            lps = tuple(to_logprob(self._engine.token_text, t, entry, self._request.logprobs)
                        for t, entry in zip(ids, part.logprobs))
        finish = "stop" if stopped else (
            FINISH_MAP.get(part.finish_reason, "stop") if part.finish_reason else None)
        if finish is None and getattr(output, "finished", False):
            finish = "stop"
        return (Chunk(text, ids, lps) if text or ids else None), finish

    def _usage(self) -> Usage:
        now = time.perf_counter()
        first = self._t_first or now
        return Usage(prompt_tokens=self._n_prompt, completion_tokens=self._n_out,
                     cached_tokens=min(self._cached, self._n_prompt),
                     prompt_seconds=first - self._t0, decode_seconds=now - first)


class DoneStream:
    """The stream of a request that generates nothing (``max_tokens=0``): one last chunk."""

    def __init__(self, n_prompt: int) -> None:
        self._chunks = iter([Chunk("", finish_reason="length", usage=Usage(n_prompt, 0))])

    def __iter__(self) -> Iterator[Chunk]:
        return self

    def __next__(self) -> Chunk:
        return next(self._chunks)

    def close(self) -> None:
        self._chunks = iter(())
