"""The stream a routed request returns: buffered head chunks, then the rest of the chosen
engine's stream, unmasked (remote answers) and with the routing decision on the last
chunk's usage (``Usage.decision``)."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator
from typing import Any

from slmkit.core.engine import ChunkStream
from slmkit.core.types import Chunk, Usage
from slmkit.route.decide import Decision


class Stopwatch:
    """Adds up the time spent in the router's own code (its overhead)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._t = 0.0

    def __enter__(self) -> Stopwatch:
        self._t = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self.seconds += time.perf_counter() - self._t

    @property
    def ms(self) -> float:
        return self.seconds * 1000


class RoutedStream:
    """Iterator of chunks for one routed request; ``decision`` says where and why.

    ``on_end(last_chunk_or_None, outcome)`` runs once: outcome is ``ok``, ``error`` or
    ``cancelled``. Closing the stream closes the engine stream underneath.
    """

    def __init__(self, decision: Decision, head: list[Chunk], rest: ChunkStream | None, *,
                 keep_logprobs: bool, unmasker: Any = None, clock: Stopwatch,
                 on_end: Callable[[Chunk | None, str], None]) -> None:
        self.decision = decision
        self._head, self._rest = list(head), rest
        self._keep_logprobs, self._unmasker = keep_logprobs, unmasker
        self._clock, self._on_end = clock, on_end
        self._done = False

    def __iter__(self) -> Iterator[Chunk]:
        return self

    def __next__(self) -> Chunk:
        if self._done:
            raise StopIteration
        try:
            chunk = self._head.pop(0) if self._head else next(self._rest)  # type: ignore[arg-type]
        except StopIteration:
            self._end(None, "error")
            raise
        except BaseException:
            self._end(None, "error")
            raise
        with self._clock:
            chunk = self._transform(chunk)
        if chunk.finish_reason is not None:
            self._end(chunk, "ok")
        return chunk

    def _transform(self, chunk: Chunk) -> Chunk:
        text = chunk.text
        if self._unmasker is not None:
            text = self._unmasker.push(text)
            if chunk.finish_reason is not None:
                text += self._unmasker.flush()
        usage = chunk.usage
        if chunk.finish_reason is not None:
            self.decision.overhead_ms = self._clock.ms
            usage = dataclasses.replace(usage or Usage(), decision=self.decision)
        return Chunk(text, chunk.token_ids, chunk.logprobs if self._keep_logprobs else None,
                     chunk.finish_reason, usage)

    def _end(self, last: Chunk | None, outcome: str) -> None:
        if self._done:
            return
        self._done = True
        self.decision.overhead_ms = self._clock.ms
        self._on_end(last, outcome)

    def close(self) -> None:
        """Cancel (idempotent); safe to call from another thread."""
        if self._rest is not None:
            try:
                self._rest.close()
            except ValueError:  # a generator running on another thread stops there
                pass
        self._end(None, "cancelled")

    def __enter__(self) -> RoutedStream:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - never raise from a finalizer
            pass
