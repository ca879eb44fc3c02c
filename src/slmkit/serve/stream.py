"""Run one ``engine.generate()`` on a worker thread and consume its chunks from asyncio.

Works for both kinds of engine the ``core.Engine`` contract allows: one that serialises
requests (its iterator blocks until the engine is free) and one that batches them (its
iterator is fed by a scheduler thread and ``generate`` may raise ``QueueFullError``).

Cancelling (client gone, server shutting down) closes the engine's iterator, which cancels
the sequence and frees its slot: at once when the iterator allows ``close()`` from another
thread, otherwise right after its current step, from the worker thread.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Callable
from typing import Protocol

from slmkit.core.engine import ChunkStream
from slmkit.core.types import Chunk, GenerateRequest

_END = object()


class Observer(Protocol):
    """Called from the worker thread as a generation progresses."""

    def first_token(self, seconds: float) -> None: ...

    def token_gap(self, seconds: float) -> None: ...

    def done(self, last: Chunk | None, error: BaseException | None) -> None: ...


class Generation:
    """One request in flight. ``await start()`` raises what ``generate()`` raised
    (validation, context overflow, queue full); then iterate :meth:`batches`."""

    def __init__(self, engine, request: GenerateRequest, observer: Observer,
                 on_done: Callable[[bool], None]) -> None:
        self.request = request
        self._engine, self._observer, self._on_done = engine, observer, on_done
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue = asyncio.Queue()
        self._cancelled = threading.Event()
        self._finished = False
        self._it: ChunkStream | None = None
        self.t0 = time.perf_counter()
        self.first_token_at: float | None = None
        self.last: Chunk | None = None

    async def start(self) -> None:
        started = self._loop.create_future()
        threading.Thread(target=self._work, args=(started,), daemon=True,
                         name=f"slm-{self.request.id}").start()
        try:
            await started
        except asyncio.CancelledError:
            self.cancel()
            raise

    # ---- worker thread --------------------------------------------------------------------
    def _work(self, started: asyncio.Future) -> None:
        was_running, last, error = False, None, None
        try:
            try:
                self._it = self._engine.generate(self.request)
            except BaseException as err:  # noqa: BLE001 - handed to the awaiting task
                error = err
                self._call(_settle, started, err)
                return
            self._call(_settle, started, None)
            prev = None
            while not self._cancelled.is_set():
                try:
                    chunk = next(self._it)
                except StopIteration:
                    break
                now = time.perf_counter()
                if chunk.token_ids:
                    if prev is None:
                        was_running = True
                        self.first_token_at = now
                        self._observer.first_token(now - self.t0)
                    else:
                        self._observer.token_gap(now - prev)
                    prev = now
                last = chunk
                self._call(self._queue.put_nowait, chunk)
                if chunk.finish_reason is not None:
                    break
        except BaseException as err:  # noqa: BLE001 - reported on the async side
            if not self._cancelled.is_set():
                error = err
                self._call(self._queue.put_nowait, err)
        finally:
            self._close_iterator()
            self.last, self._finished = last, True
            try:
                self._observer.done(last, error)
            finally:
                self._on_done(was_running)
                self._call(self._queue.put_nowait, _END)

    def _call(self, fn, *args) -> None:
        try:
            self._loop.call_soon_threadsafe(fn, *args)
        except RuntimeError:  # the event loop is gone (server shutting down)
            self._cancelled.set()

    def _close_iterator(self) -> None:
        if self._it is None:
            return
        try:
            self._it.close()
        except ValueError:  # a generator executing on another thread: that thread closes it
            pass

    # ---- event loop side ------------------------------------------------------------------
    def cancel(self) -> None:
        """Stop generating (idempotent). Returns at once; the slot is freed shortly."""
        if self._cancelled.is_set() or self._finished:
            return
        self._cancelled.set()
        threading.Thread(target=self._close_iterator, daemon=True).start()

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    async def batches(self) -> AsyncIterator[list[Chunk]]:
        """Chunks in arrival order, grouped by what was ready together (fewer writes when a
        client reads slower than the model writes). Raises an engine error mid-stream."""
        while True:
            items = [await self._queue.get()]
            while not self._queue.empty():
                items.append(self._queue.get_nowait())
            chunks = []
            for item in items:
                if item is _END:
                    if chunks:
                        yield chunks
                    return
                if isinstance(item, BaseException):
                    if chunks:
                        yield chunks
                    raise item
                chunks.append(item)
            yield chunks


def _settle(fut: asyncio.Future, err: BaseException | None) -> None:
    if fut.done():
        return
    if err is None:
        fut.set_result(None)
    else:
        fut.set_exception(err)
