"""What a recognizer is and what it finds.

A :class:`Recognizer` is a compiled regular expression plus an optional validator that
turns a match into a score (or rejects it: checksums, dates, context words). Boundaries in
the patterns are ASCII classes on purpose: Korean particles attach directly to
identifiers ("010-1234-5678로"), and Python's ``\\b``/``\\w`` treat Hangul as word
characters.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

# Entity types (placeholders are written <TYPE_n>).
EMAIL = "EMAIL"
PHONE = "PHONE"
CREDIT_CARD = "CREDIT_CARD"
IBAN = "IBAN"
BANK_ACCOUNT = "BANK_ACCOUNT"
IP_ADDRESS = "IP_ADDRESS"
URL_CREDENTIALS = "URL_CREDENTIALS"
API_KEY = "API_KEY"
JWT = "JWT"
PRIVATE_KEY = "PRIVATE_KEY"
SECRET = "SECRET"
KR_RRN = "KR_RRN"
KR_BRN = "KR_BRN"
PASSPORT = "PASSPORT"
PERSON = "PERSON"
LITERAL = "LITERAL"  # text in the input that looks like one of our placeholders

ENTITIES = (EMAIL, PHONE, CREDIT_CARD, IBAN, BANK_ACCOUNT, IP_ADDRESS, URL_CREDENTIALS, API_KEY, JWT,
            PRIVATE_KEY, SECRET, KR_RRN, KR_BRN, PASSPORT, PERSON)
STRUCTURED = tuple(e for e in ENTITIES if e != PERSON)


@dataclass(frozen=True)
class Finding:
    """One recognized identifier: ``text[start:end]`` is the value. Holds no copy of it."""

    entity: str
    start: int
    end: int
    score: float
    recognizer: str

    def value(self, text: str) -> str:
        """The identifier itself, cut from the text it was found in."""
        return text[self.start:self.end]

    def overlaps(self, other: Finding) -> bool:
        return self.start < other.end and other.start < self.end

    def to_dict(self) -> dict[str, object]:
        return {"entity": self.entity, "start": self.start, "end": self.end,
                "score": round(self.score, 3), "recognizer": self.recognizer}


# (text, match) -> a score, a (score, start, end) that narrows the span, or None to reject
Validator = Callable[[str, "re.Match[str]"], "float | tuple[float, int, int] | None"]


@dataclass(frozen=True)
class Recognizer:
    """A pattern for one entity type. The value is the match's group ``v`` when the
    pattern has one, else the whole match. ``validate`` may reject, re-score or narrow."""

    name: str
    entity: str
    pattern: re.Pattern[str]
    validate: Validator | None = None
    score: float = 0.9

    def find(self, text: str) -> Iterator[Finding]:
        """Every validated match in ``text``."""
        has_group = "v" in self.pattern.groupindex
        for m in self.pattern.finditer(text):
            result = self.score if self.validate is None else self.validate(text, m)
            if result is None:
                continue
            if isinstance(result, tuple):
                score, start, end = result
            else:
                score, (start, end) = result, (m.span("v") if has_group else m.span())
            if end > start:
                yield Finding(self.entity, start, end, score, self.name)


def words(*items: str) -> re.Pattern[str]:
    """A case-insensitive alternation of context words (longest first)."""
    alts = sorted(items, key=len, reverse=True)
    return re.compile("|".join(re.escape(w) for w in alts), re.IGNORECASE)


def near(text: str, start: int, end: int, pattern: re.Pattern[str], *,
         before: int = 40, after: int = 0) -> bool:
    """True when ``pattern`` occurs within ``before`` characters before the span or
    ``after`` characters after it."""
    if pattern.search(text, max(0, start - before), start):
        return True
    return bool(after) and pattern.search(text, end, min(len(text), end + after)) is not None


def preceded_by(text: str, start: int, pattern: re.Pattern[str], window: int = 12) -> bool:
    """True when the text just before ``start`` ends with ``pattern`` (anchor it with ``$``)."""
    return pattern.search(text[max(0, start - window):start]) is not None


def resolve_overlaps(findings: list[Finding]) -> list[Finding]:
    """Keep the best of overlapping findings (higher score, then longer), sorted by start.

    Findings are first split into clusters of transitively overlapping spans (a sweep by
    start); the greedy choice only ever compares findings of one cluster, and each cluster
    marks what it kept in a bytearray over its own extent, so the cost stays linear in the
    text and the findings however many there are."""
    kept: list[Finding] = []
    cluster: list[Finding] = []
    reach = -1
    order = {id(f): i for i, f in enumerate(findings)}  # ties go to the earlier recognizer
    for f in sorted(findings, key=lambda f: (f.start, f.end, order[id(f)])):
        if cluster and f.start >= reach:
            kept.extend(_best_of(cluster, order))
            cluster = []
        cluster.append(f)
        reach = max(reach, f.end) if len(cluster) > 1 else f.end
    if cluster:
        kept.extend(_best_of(cluster, order))
    return kept


def _best_of(cluster: list[Finding], order: dict[int, int]) -> list[Finding]:
    """The greedy choice inside one cluster of overlapping findings, sorted by start."""
    if len(cluster) == 1:
        return cluster
    base = cluster[0].start
    taken = bytearray(max(f.end for f in cluster) - base)
    chosen = []
    for f in sorted(cluster, key=lambda f: (-f.score, -(f.end - f.start), f.start, order[id(f)])):
        s, e = f.start - base, f.end - base
        if taken.find(1, s, e) < 0:
            taken[s:e] = b"\x01" * (e - s)
            chosen.append(f)
    return sorted(chosen, key=lambda f: f.start)
