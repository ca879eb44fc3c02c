"""Turning a stream of token bytes into text: incremental UTF-8 and stop strings.

Backend-neutral (no llama.cpp here), so every engine streams text the same way.
"""

from __future__ import annotations

import codecs
from collections.abc import Sequence


class StopMatcher:
    """Holds back text that might be the start of a stop string.

    ``push(text)`` returns ``(safe_text, stopped)``: ``safe_text`` can be shown now and never
    contains (part of) a stop string; once ``stopped`` is true the stream is over and the
    stop string and everything after it are dropped. ``flush()`` returns what was held back
    when the stream ends for another reason.
    """

    def __init__(self, stops: Sequence[str]) -> None:
        self.stops = tuple(s for s in stops if s)
        self._held = ""
        self.stopped = False

    def push(self, text: str) -> tuple[str, bool]:
        if self.stopped:
            return "", True
        if not self.stops:
            return text, False
        buf = self._held + text
        cut = self._earliest_stop(buf)
        if cut is not None:
            self._held, self.stopped = "", True
            return buf[:cut], True
        keep = self._partial_suffix(buf)
        self._held = buf[len(buf) - keep:] if keep else ""
        return buf[: len(buf) - keep], False

    def flush(self) -> str:
        held, self._held = self._held, ""
        return held

    def _earliest_stop(self, buf: str) -> int | None:
        hits = [i for i in (buf.find(s) for s in self.stops) if i >= 0]
        return min(hits) if hits else None

    def _partial_suffix(self, buf: str) -> int:
        """Length of the longest suffix of ``buf`` that is a proper prefix of a stop string."""
        best = 0
        for stop in self.stops:
            for n in range(min(len(stop) - 1, len(buf)), best, -1):
                if buf.endswith(stop[:n]):
                    best = n
                    break
        return best


class TextStream:
    """Token bytes in, displayable text out, honouring stop strings.

    Multi-byte characters split across tokens are held until complete; invalid bytes
    become U+FFFD rather than an exception.
    """

    def __init__(self, stops: Sequence[str] = ()) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._stops = StopMatcher(stops)

    @property
    def stopped(self) -> bool:
        return self._stops.stopped

    def push(self, piece: bytes) -> str:
        text = self._decoder.decode(piece)
        return self._stops.push(text)[0] if text else ""

    def finish(self) -> str:
        """Text still held (incomplete UTF-8 and partial stop matches) at the end of a stream."""
        if self._stops.stopped:
            return ""
        tail = self._decoder.decode(b"", final=True)
        text, _ = self._stops.push(tail) if tail else ("", False)
        return text + ("" if self._stops.stopped else self._stops.flush())
