"""Prompt-lookup speculative decoding: drafts from the request's own text, no draft model.

When an answer copies its input (a summary, a RAG answer, a code edit, JSON extraction),
the next few tokens usually already appear in the prompt or in what was generated: find
the latest earlier occurrence of the last ``n`` tokens (``n`` from 4 down to 2) and propose
the tokens that followed it. The scheduler feeds ``[last token, draft…]`` in the same
batched ``llama_decode`` as the other sequences, then samples every row in order through
the request's own sampler chain and keeps drafts while they equal what was sampled; the
first mismatch is replaced by the sampled token and the rejected drafts are removed from
the KV cache (``llama_memory_seq_rm``).

Why the output does not change: row ``j`` sees exactly the context plain decoding would
have (the accepted prefix), the chain samples (and accepts) one token per emitted token
just as plain decoding does, so greedy output is token-for-token the same, and a sampled
request draws from the same distribution — for a one-token "draft distribution" the
standard rejection rule (accept ``d`` with probability ``p(d)``, else sample from ``p``
without ``d``) is the same as drawing ``t ~ p`` and accepting when ``t == d``; with a seed
even the draws are the same.

Auto mode drafts only when such a match exists and checks, every :data:`WINDOW` drafted
tokens, that drafting pays: when fewer than :data:`MIN_ACCEPT` of them were accepted, or
when the steps that drafted took longer per emitted token than steps that did not (timed
by the scheduler, so the check holds on any hardware: a verify batch is nearly free where
decoding is bound by reading the weights and costs nearly a decode per row where it is
compute-bound), drafting pauses — for longer each time. Open-ended chat and machines where
verification does not pay therefore run at about the plain speed.
"""

from __future__ import annotations

MODES = ("auto", "on", "off")
N_MAX, N_MIN = 4, 2  # n-gram lengths looked up, longest first
K_START, K_MAX = 4, 12  # draft length: starts at K_START, doubles while all are accepted
MIN_ACCEPT = 0.35  # auto mode: below this acceptance rate drafting pauses
WINDOW = 24  # drafted tokens between two acceptance checks
PAUSE = 32  # tokens generated without drafting after the first low-acceptance check
PROBE = 8  # plain tokens decoded to time a step without drafting, when none were timed yet
EMA = 0.3  # weight of the newest plain step in its running seconds-per-token


def check_mode(mode: str) -> str:
    """``mode`` if it is one of :data:`MODES`, else a ValueError naming them."""
    if mode not in MODES:
        raise ValueError(f"speculate must be one of {', '.join(MODES)} (got {mode!r})")
    return mode


class NgramIndex:
    """Where each n-gram of a token history last occurred (the position after it).

    ``push`` is O(N_MAX - N_MIN) dict updates; ``lookup`` tries the longest suffix first."""

    def __init__(self, tokens: list[int], n_min: int = N_MIN, n_max: int = N_MAX) -> None:
        self.tokens: list[int] = []
        self._sizes = range(n_max, n_min - 1, -1)
        self._at: dict[tuple[int, ...], int] = {}
        for t in tokens:
            self.push(t)

    def push(self, token: int) -> None:
        """Append ``token``; the n-grams ending just before it now point at it."""
        h = self.tokens
        h.append(token)
        end = len(h) - 1
        for n in self._sizes:
            if end >= n:
                self._at[tuple(h[end - n:end])] = end

    def lookup(self, k: int) -> list[int]:
        """Up to ``k`` tokens that followed the latest earlier occurrence of the longest
        matching suffix (empty when no suffix of at least ``n_min`` tokens occurred)."""
        h = self.tokens
        for n in self._sizes:
            if len(h) <= n:
                continue
            at = self._at.get(tuple(h[-n:]))
            if at is not None:
                return h[at:at + k]
        return []


class Speculator:
    """One request's drafting policy: the n-gram index, the draft length and (in auto mode)
    acceptance tracking that pauses drafting when it does not pay."""

    def __init__(self, prompt: list[int], mode: str = "auto") -> None:
        self.mode = check_mode(mode)
        self.index = NgramIndex(prompt)
        self.k = K_START
        self.drafted = self.accepted = 0  # totals, for usage and benchmarks
        self._window_drafted = self._window_accepted = 0
        self._pause_left, self._pause_next = 0, PAUSE
        self._plain_spt: float | None = None  # seconds per token of steps without drafts
        self._window_seconds = 0.0  # drafting steps in this window: time, tokens emitted
        self._window_emitted = 0

    def draft(self, room: int, seq_id: int = 0) -> list[int]:
        """Tokens to verify after the last one (at most ``room``; empty: decode plainly).
        ``seq_id``: the slot's KV sequence (used by a draft model's proposals)."""
        if self.mode == "off" or room <= 0:
            return []
        if self._pause_left > 0:
            return []
        return self.index.lookup(min(self.k, room))

    def generated(self, token: int) -> None:
        """Record one emitted token (drafted or not)."""
        self.index.push(token)
        if self._pause_left > 0:
            self._pause_left -= 1

    def verified(self, drafted: int, accepted: int) -> None:
        """Record how many of ``drafted`` tokens were accepted; adapt the draft length
        and, in auto mode, pause drafting when the recent acceptance is low."""
        if not drafted:
            return
        self.drafted += drafted
        self.accepted += accepted
        self.k = min(self.k * 2, K_MAX) if accepted == drafted else max(2, accepted + 1)
        if self.mode != "auto":
            return
        self._window_drafted += drafted
        self._window_accepted += accepted
        if self._window_drafted < WINDOW:
            return
        if not self._pays():
            self._pause_left = self._pause_next
            self._pause_next *= 2
        elif self._plain_spt is None and self._window_emitted:
            self._pause_left = PROBE  # time some plain steps before judging the speed
        else:
            self._pause_next = PAUSE
        self._window_drafted = self._window_accepted = self._window_emitted = 0
        self._window_seconds = 0.0

    def _pays(self) -> bool:
        if self._window_accepted < MIN_ACCEPT * self._window_drafted:
            return False
        if self._plain_spt is None or not self._window_emitted:
            return True  # no timing yet (or none given): acceptance alone decides
        return self._window_seconds / self._window_emitted < self._plain_spt

    def timed(self, seconds: float, emitted: int, drafted: bool) -> None:
        """Record one scheduler step this request took part in: its wall time (drafting
        and verification included) and the tokens it emitted."""
        if emitted <= 0:
            return
        if drafted:
            self._window_seconds += seconds
            self._window_emitted += emitted
        else:
            spt = seconds / emitted
            self._plain_spt = spt if self._plain_spt is None else (
                EMA * spt + (1 - EMA) * self._plain_spt)

    @property
    def paused(self) -> bool:
        """Whether drafting is paused now (auto mode, low acceptance)."""
        return self._pause_left > 0
