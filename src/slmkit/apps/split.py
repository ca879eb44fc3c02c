"""Splitting a document that does not fit the model's context, on its structure: parts
(e-mail messages, PDF pages) first, then headings and paragraphs, then sentences; a single
sentence longer than the budget is cut at a word boundary — and the report says so.
Nothing is ever dropped: the pieces cover the whole text, in order."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from slmkit.apps.documents import PART_GAP, Document
from slmkit.apps.text import sentences

HEADING = re.compile(r"^(#{1,6}\s|[0-9]+(\.[0-9]+)*\.?\s+\S|제\s*\d+\s*[조장절]|Article\s+\d+)",
                     re.M | re.I)
LEVELS = ("parts", "paragraphs", "sentences", "words")


@dataclass
class Piece:
    """A span of the document's text (``start``..``end``) of ``tokens`` tokens."""

    text: str
    start: int
    end: int
    tokens: int


@dataclass
class Unit:
    start: int
    end: int
    level: str


def paragraphs(text: str, start: int, end: int) -> list[Unit]:
    """Blocks separated by blank lines, with a new block at every heading line."""
    body = text[start:end]
    cuts = {0, len(body)}
    cuts.update(m.end() for m in re.finditer(r"\n\s*\n", body))
    cuts.update(m.start() for m in HEADING.finditer(body) if m.start() > 0)
    points = sorted(cuts)
    return [Unit(start + a, start + b, "paragraphs") for a, b in zip(points, points[1:])
            if body[a:b].strip()]


def _sentences(text: str, start: int, end: int) -> list[Unit]:
    spans = sentences(text[start:end], start)
    units, prev = [], start
    for i, s in enumerate(spans):
        stop = spans[i + 1].start if i + 1 < len(spans) else end
        units.append(Unit(prev, stop, "sentences"))
        prev = stop
    return units or [Unit(start, end, "sentences")]


def _words(text: str, start: int, end: int, budget: int,
           count: Callable[[str], int]) -> list[Unit]:
    """Cut at spaces so that each unit fits (a last resort, reported)."""
    units, a = [], start
    while a < end:
        b = end
        while b > a + 1 and count(text[a:b]) > budget:
            space = text.rfind(" ", a + 1, a + (b - a) // 2 + 1)
            b = space if space > a else a + (b - a) // 2
        units.append(Unit(a, b, "words"))
        a = b
    return units


def _units(doc: Document, budget: int, count: Callable[[str], int]) -> list[Unit]:
    text, out = doc.text, []
    pos = 0
    parts = []
    for p in doc.parts:
        parts.append(Unit(pos, pos + len(p.text), "parts"))
        pos += len(p.text) + len(PART_GAP)
    queue = list(reversed(parts))
    while queue:
        u = queue.pop()
        if count(text[u.start:u.end]) <= budget:
            out.append(u)
            continue
        finer = {"parts": lambda: paragraphs(text, u.start, u.end),
                 "paragraphs": lambda: _sentences(text, u.start, u.end),
                 "sentences": lambda: _words(text, u.start, u.end, budget, count),
                 "words": lambda: [u]}[u.level]()
        if len(finer) <= 1 and u.level != "words":
            finer = [Unit(x.start, x.end, LEVELS[LEVELS.index(u.level) + 1]) for x in finer]
        if finer == [u]:
            out.append(u)  # a single "word" over budget: kept whole, the model truncates
            continue
        queue.extend(reversed(finer))
    return out


def split(doc: Document, budget: int, count: Callable[[str], int]) -> tuple[list[Piece], dict]:
    """Pieces of at most ``budget`` tokens (by ``count``) packed from structural units,
    and a report: ``{"pieces", "levels": {level: units}, "cut_in_sentence": bool}``."""
    units = _units(doc, budget, count)
    pieces: list[Piece] = []
    for u in units:
        if pieces:
            last = pieces[-1]
            joined = doc.text[last.start:u.end]
            n = count(joined)
            if n <= budget:
                pieces[-1] = Piece(joined, last.start, u.end, n)
                continue
        chunk = doc.text[u.start:u.end]
        pieces.append(Piece(chunk, u.start, u.end, count(chunk)))
    levels: dict[str, int] = {}
    for u in units:
        levels[u.level] = levels.get(u.level, 0) + 1
    report = {"pieces": len(pieces), "levels": levels, "budget_tokens": budget,
              "piece_tokens": [p.tokens for p in pieces],
              "cut_in_sentence": "words" in levels}
    return pieces, report
