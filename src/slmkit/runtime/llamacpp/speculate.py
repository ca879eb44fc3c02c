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

Auto mode decodes the first :data:`PROBE` tokens plainly, then drafts only when a match
exists, and pauses drafting — for longer each time — when it does not pay: when fewer than
:data:`MIN_ACCEPT` of the last :data:`WINDOW` drafted tokens were accepted, or when the
steps that drafted took longer per emitted token than the plain ones (checked every
:data:`SPEED_WINDOW` tokens; the scheduler times every decoding step, so the check holds on
any hardware: a verify batch is nearly free where decoding is bound by reading the weights
and costs nearly a decode per row where it is compute-bound). Open-ended chat and machines where
verification does not pay therefore run at about the plain speed.
"""

from __future__ import annotations

MODES = ("auto", "on", "off")
N_MAX, N_MIN = 4, 2  # n-gram lengths looked up, longest first
K_START, K_MAX = 4, 12  # draft length: starts at K_START, doubles while all are accepted
MIN_ACCEPT = 0.35  # auto mode: below this acceptance rate drafting pauses
WINDOW = 24  # drafted tokens between two acceptance checks
PAUSE = 32  # tokens generated without drafting after the first low-acceptance check
PROBE = 4  # auto mode: the first tokens are decoded plainly, timing a step without drafts
SPEED_WINDOW = 8  # tokens emitted by drafting steps between two speed checks
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
    the checks that pause drafting when it does not pay (see the module docstring)."""

    def __init__(self, prompt: list[int], mode: str = "auto") -> None:
        self.mode = check_mode(mode)
        self.index = NgramIndex(prompt)
        self.k = K_START
        self.drafted = self.accepted = 0  # totals, for usage and benchmarks
        self._generated = 0
        self._window_drafted = self._window_accepted = 0
        self._pause_left, self._pause_next = 0, PAUSE
        self._plain_spt: float | None = None  # seconds per token of steps without drafts
        self._draft_seconds, self._draft_emitted = 0.0, 0  # drafting steps since the check

    def draft(self, room: int, seq_id: int = 0) -> list[int]:
        """Tokens to verify after the last one (at most ``room``; empty: decode plainly).
        ``seq_id``: the slot's KV sequence (used by a draft model's proposals)."""
        if self.mode == "off" or room <= 0 or self._pause_left > 0:
            return []
        if self.mode == "auto" and self._generated < PROBE:
            return []  # time a few plain steps first: the speed check's baseline
        return self.propose(min(self.k, room), seq_id)

    def propose(self, k: int, seq_id: int) -> list[int]:
        """Up to ``k`` draft tokens (here: prompt lookup)."""
        return self.index.lookup(k)

    def generated(self, token: int) -> None:
        """Record one emitted token (drafted or not)."""
        self.index.push(token)
        self._generated += 1
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
        if self._window_accepted < MIN_ACCEPT * self._window_drafted:
            self._pause()
        elif self._plain_spt is None:
            self._pause_next = PAUSE  # no timing to judge by: acceptance alone decides
        self._window_drafted = self._window_accepted = 0

    def timed(self, seconds: float, emitted: int, drafted: bool) -> None:
        """Record one decoding step this request took part in: its wall time (drafting and
        verification included) and the tokens it emitted; in auto mode, pause drafting when
        drafting steps took longer per token than plain ones."""
        if emitted <= 0:
            return
        if not drafted:
            spt = seconds / emitted
            self._plain_spt = spt if self._plain_spt is None else (
                EMA * spt + (1 - EMA) * self._plain_spt)
            return
        self._draft_seconds += seconds
        self._draft_emitted += emitted
        if self._draft_emitted < SPEED_WINDOW or self._plain_spt is None:
            return
        if self.mode == "auto":
            if self._draft_seconds / self._draft_emitted >= self._plain_spt:
                self._pause()
            else:
                self._pause_next = PAUSE
        self._draft_seconds, self._draft_emitted = 0.0, 0

    def _pause(self) -> None:
        self._pause_left = self._pause_next
        self._pause_next *= 2

    @property
    def paused(self) -> bool:
        """Whether drafting is paused now (auto mode: it did not pay lately)."""
        return self._pause_left > 0
