"""Continuous batching: many sequences decode together in one llama.cpp batch.

One scheduler thread owns the llama.cpp context. Each step it (1) drops cancelled and
timed-out sequences, (2) admits waiting requests into free slots, (3) builds one batch:
one token for every decoding sequence, then prompt tokens of prefilling sequences up to
``n_batch`` (chunked prefill, so a long prompt never stalls the others), (4) decodes it,
(5) samples a token for every sequence whose logits are ready.

Each slot is a llama.cpp sequence id whose cached tokens outlive its request. A new request
goes to the idle slot sharing the longest prefix with its prompt; if another slot (even a
busy one) shares a longer prefix — the same system prompt, say — those cells are shared
into the new slot with ``llama_memory_seq_cp`` (a unified KV cache makes that free) and only
the rest of the prompt is evaluated.

LoRA adapters are set per llama.cpp context, so one decode runs under one adapter set:
each step decodes only the sequences of one adapter (taking turns when several are
running) and switches the adapter between decode calls. A slot remembers the adapter its
cached tokens were computed with; prefixes are reused only under the same adapter.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field

from slmkit.core.errors import EngineClosedError, QueueFullError
from slmkit.runtime.llamacpp.sequence import Sequence
from slmkit.util.text import common_prefix
from slmkit.util.threads import DecodeWatch


@dataclass
class Slot:
    seq_id: int
    tokens: list[int] = field(default_factory=list)  # what the KV cache holds for seq_id
    busy: Sequence | None = None
    last_used: float = 0.0
    adapter: str | None = None  # the adapter ``tokens`` were computed with


class Scheduler:
    def __init__(self, model, *, n_slots: int, n_ctx_slot: int, max_queue: int,
                 prompt_cache=None) -> None:
        self.model, self.n_ctx_slot, self.max_queue = model, n_ctx_slot, max_queue
        self.slots = [Slot(i) for i in range(n_slots)]
        self.prompt_cache = prompt_cache  # a .prompt_cache.PromptCache: a chat prompt head's
        if prompt_cache is not None:  # KV from the last process; this one's is saved once
            self.slots[0].tokens = prompt_cache.load(0)[:n_ctx_slot - 1]
            self.model.forget(0, len(self.slots[0].tokens))
        self._waiting: collections.deque[Sequence] = collections.deque()
        self._jobs: collections.deque[tuple[Callable, Future, str | None]] = collections.deque()
        self._cv = threading.Condition()
        self._closed = False
        self.steps = 0
        self.watch: DecodeWatch | None = None  # decode speed and thread count, made lazily
        self._turn = 0  # which adapter group decodes next when several are running
        self._thread = threading.Thread(target=self._loop, name="slm-scheduler", daemon=True)
        self._thread.start()

    # ---- any thread ------------------------------------------------------------------
    def submit(self, seq: Sequence) -> None:
        with self._cv:
            if self._closed:
                raise EngineClosedError("engine is closed")
            idle = sum(s.busy is None for s in self.slots)  # about to take a waiting request
            if len(self._waiting) >= self.max_queue + idle:
                raise QueueFullError(len(self._waiting), retry_after=self._retry_after())
            self._waiting.append(seq)
            self._cv.notify()

    def call(self, fn: Callable[[Slot], object], *, adapter: str | None = None):
        """Run ``fn(slot)`` on the scheduler thread with an idle slot, between steps,
        with ``adapter`` applied."""
        fut: Future = Future()
        with self._cv:
            if self._closed:
                raise EngineClosedError("engine is closed")
            self._jobs.append((fn, fut, adapter))
            self._cv.notify()
        return fut.result()

    def wake(self) -> None:
        with self._cv:
            self._cv.notify()

    def stats(self) -> dict[str, int]:
        return {"slots": len(self.slots), "busy": sum(s.busy is not None for s in self.slots),
                "waiting": len(self._waiting)}

    def close(self) -> None:
        with self._cv:
            self._closed = True
            self._cv.notify()
        if self._thread is not threading.current_thread():
            self._thread.join()

    def _retry_after(self) -> float:
        return 1.0

    # ---- scheduler thread ------------------------------------------------------------
    def _loop(self) -> None:
        while True:
            with self._cv:
                while not self._closed and not self._has_work():
                    self._cv.wait()
                if self._closed:
                    break
            try:
                self._run_jobs()
                self._reap()
                self._admit()
                self._step()
            except Exception as err:  # keep serving: fail what was running, reset the cache
                self._fail_active(err)
        self._shutdown()

    def _has_work(self) -> bool:
        return bool(self._waiting or self._jobs or any(s.busy for s in self.slots))

    def _run_jobs(self) -> None:
        while self._jobs:
            idle = self._idle_slot()
            if idle is None:
                return
            fn, fut, adapter = self._jobs.popleft()
            idle.tokens.clear()
            self.model.forget(idle.seq_id, 0)
            idle.adapter = adapter
            try:
                self.model.use_adapter(adapter)
                fut.set_result(fn(idle))
            except BaseException as err:
                fut.set_exception(err)

    def _idle_slot(self) -> Slot | None:
        idle = [s for s in self.slots if s.busy is None]
        return min(idle, key=lambda s: s.last_used) if idle else None

    def _reap(self) -> None:
        now = time.perf_counter()
        for slot in self.slots:
            seq = slot.busy
            if seq is not None and (seq.cancelled or seq.expired(now)):
                self._release(slot)
                seq.finish("cancelled" if seq.cancelled else "timeout")
        for seq in [s for s in self._waiting if s.cancelled or s.expired(now)]:
            self._waiting.remove(seq)
            seq.finish("cancelled" if seq.cancelled else "timeout")

    def _release(self, slot: Slot) -> None:
        slot.busy = None
        slot.last_used = time.perf_counter()

    def _admit(self) -> None:
        while True:
            with self._cv:
                if not self._waiting:
                    return
                idle = [s for s in self.slots if s.busy is None]
                if not idle:
                    return
                seq = self._waiting.popleft()
            try:
                self._place(seq, idle)
            except Exception as err:  # in no queue and no slot yet: fail it, or it waits forever
                if seq.slot is None or seq.slot.busy is not seq:
                    seq.fail(err)
                raise

    def _place(self, seq: Sequence, idle: list[Slot]) -> None:
        prompt = seq.prompt
        slot = max(idle, key=lambda s: (_reusable(s, seq), -s.last_used))
        keep = min(_reusable(slot, seq), len(prompt) - 1)
        if slot.adapter != seq.adapter:
            slot.tokens.clear()
            self.model.forget(slot.seq_id, 0)
            slot.adapter = seq.adapter
        donor, shared = self._best_donor(seq, exclude=slot)
        if shared > keep:
            self.model.forget(slot.seq_id, 0)
            self.model.share(donor.seq_id, slot.seq_id, shared)
            slot.tokens[:] = prompt[:shared]
            keep = shared
        elif keep < len(slot.tokens) and not self.model.forget(slot.seq_id, keep):
            self.model.forget(slot.seq_id, 0)  # caches that cannot trim (e.g. sliding window)
            keep = 0
        del slot.tokens[keep:]
        slot.busy = seq
        seq.admit(slot, keep)

    def _best_donor(self, seq: Sequence, *, exclude: Slot) -> tuple[Slot | None, int]:
        best, best_n = None, 0
        for s in self.slots:
            if s is exclude:
                continue
            n = min(_reusable(s, seq), len(seq.prompt) - 1)
            if n > best_n:
                best, best_n = s, n
        return best, best_n

    def _step(self) -> None:
        active = self._adapter_group([s for s in self.slots if s.busy is not None])
        if not active:
            return
        self.model.use_adapter(active[0].busy.adapter)
        t_step = time.perf_counter()
        rows, wanted = self._build_batch(active)  # drafting happens here: timed too
        if not rows:
            return
        t0 = time.perf_counter()
        self.model.decode(rows)
        if len(rows) == len(wanted):  # decode-only: one token per running sequence
            self._watch_step(time.perf_counter() - t0)
        self.steps += 1
        for slot, fed in self._fed:
            slot.tokens.extend(fed)
        if self.prompt_cache is not None:
            self._offer_head()
        done = [(slot.busy, len(draft), *self._emit(slot, row, draft))
                for slot, row, draft in wanted]
        seconds = time.perf_counter() - t_step
        # steps that also prefilled say nothing about decoding speed: not timed
        decoding_only = len(rows) == sum(1 + d for _, d, _, _ in done)
        for seq, drafted, emitted, accepted in done:
            if seq.spec is not None:  # time first: the policy judges the speed
                if decoding_only:
                    seq.spec.timed(seconds, emitted, drafted > 0)
                seq.spec.verified(drafted, accepted)

    def _offer_head(self) -> None:
        """Once the first chat prompt's head (and nothing more) is in a slot's cache, offer
        it to the prompt cache; that ends the prompt cache's part (once per engine)."""
        for slot, _ in self._fed:
            seq = slot.busy
            head = seq.cache_head if seq is not None else 0
            if head and len(slot.tokens) >= head:
                if len(slot.tokens) == head and seq.adapter is None:
                    self.prompt_cache.offer(slot.seq_id, slot.tokens[:head])
                self.prompt_cache = None
                return

    def _emit(self, slot: Slot, row: int, draft: list[int]) -> tuple[int, int]:
        """Sample rows ``row, row+1, …`` in order, keeping drafts while they equal the
        sampled token (see :mod:`.speculate`); drop rejected drafts from the KV cache.
        Returns (tokens the request emitted, drafts accepted)."""
        seq = slot.busy
        accepted = emitted = 0
        for j in range(len(draft) + 1):
            token = seq.sampler.sample(self.model.ctx, row + j)
            reason = seq.on_token(self.model, token, row + j, self.n_ctx_slot)
            if reason:
                self._release(slot)  # free the slot before the caller sees the last chunk
                seq.finish(reason)
                break
            emitted += 1
            if j == len(draft) or token != draft[j]:
                break
            slot.tokens.append(token)  # the draft was right: its cell stays
            accepted += 1
        if draft and accepted < len(draft):
            self.model.forget(slot.seq_id, len(slot.tokens))
        return emitted, accepted

    def _watch_step(self, seconds: float) -> None:
        """Feed the decode watch; switch threads when it chose another count."""
        if self.watch is None:
            self.watch = DecodeWatch(self.model.n_threads,
                                     auto=getattr(self.model, "auto_threads", False))
        new = self.watch.record(seconds)
        if new is not None:
            self.model.set_threads(new)

    def _adapter_group(self, active: list[Slot]) -> list[Slot]:
        """The running slots of one adapter: all of them when they share one, else the
        next group in turn (so every adapter's requests keep advancing)."""
        keys = sorted({s.busy.adapter or "" for s in active})
        if len(keys) <= 1:
            return active
        self._turn = (self._turn + 1) % len(keys)
        key = keys[self._turn]
        return [s for s in active if (s.busy.adapter or "") == key]

    def _build_batch(self, active: list[Slot]):
        budget = self.model.n_batch
        rows: list[tuple[int, int, int, bool]] = []
        wanted: list[tuple[Slot, int, list[int]]] = []  # slot, first row sampled, drafts
        self._fed: list[tuple[Slot, list[int]]] = []
        # decoding sequences first (one token each), then chunked prefill
        order = sorted(active, key=lambda s: not s.busy.prefilled)
        for slot in order:
            if budget <= 0:
                break
            head = slot.busy.cache_head if self.prompt_cache is not None else 0
            piece, want = slot.busy.take(min(budget, head - len(slot.tokens))
                                         if len(slot.tokens) < head else budget)
            draft = self._draft(slot, budget - len(piece)) if want else []
            start, last = len(slot.tokens), len(piece) - 1
            rows.extend((t, start + i, slot.seq_id, want and i >= last)
                        for i, t in enumerate(piece + draft))
            if want:
                wanted.append((slot, len(rows) - 1 - len(draft), draft))
            self._fed.append((slot, piece))
            budget -= len(piece) + len(draft)
        return rows, wanted

    def _draft(self, slot: Slot, room: int) -> list[int]:
        """Speculative tokens to verify after a decoding sequence's last token."""
        seq = slot.busy
        if seq.spec is None or not seq.prefilled:
            return []
        room = min(room, self.n_ctx_slot - len(slot.tokens) - 3)
        if seq.limit is not None:
            room = min(room, seq.limit - seq.usage.completion_tokens - 1)
        return seq.spec.draft(room, slot.seq_id)

    def _fail_active(self, err: Exception) -> None:
        for slot in self.slots:
            seq = slot.busy
            if seq is not None:
                self._release(slot)
                seq.fail(err)
            slot.tokens.clear()
        self.model.clear()

    def _shutdown(self) -> None:
        closed = EngineClosedError("engine was closed while the request was running")
        for slot in self.slots:
            if slot.busy is not None:
                slot.busy.fail(closed)
                slot.busy = None
        while self._waiting:
            self._waiting.popleft().fail(closed)
        while self._jobs:
            self._jobs.popleft()[1].set_exception(closed)


def _reusable(slot: Slot, seq: Sequence) -> int:
    """Cached tokens of ``slot`` that ``seq`` can reuse (none under another adapter)."""
    return common_prefix(slot.tokens, seq.prompt) if slot.adapter == seq.adapter else 0
