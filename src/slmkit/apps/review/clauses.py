"""A document's clauses (paragraphs and numbered articles) and an in-memory BM25 over them,
so each checklist field reads only the clauses about it. Standard library only."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

from slmkit.apps.documents import Document
from slmkit.apps.split import paragraphs
from slmkit.apps.text import words


@dataclass(frozen=True)
class Clause:
    text: str
    start: int
    end: int


def clauses(doc: Document) -> list[Clause]:
    """The document's paragraphs (a heading or numbered article starts a new one)."""
    return [Clause(doc.text[u.start:u.end].strip(), u.start, u.end)
            for u in paragraphs(doc.text, 0, len(doc.text)) if doc.text[u.start:u.end].strip()]


class ClauseIndex:
    """BM25 over clauses, plus a bonus for each keyword found verbatim (Korean words carry
    particles, so substring hits matter)."""

    def __init__(self, items: list[Clause], k1: float = 1.5, b: float = 0.75) -> None:
        self.items, self.k1, self.b = items, k1, b
        self.toks = [Counter(words(c.text)) for c in items]
        self.avg = sum(sum(t.values()) for t in self.toks) / max(1, len(items))
        df: Counter = Counter()
        for t in self.toks:
            df.update(t.keys())
        n = len(items)
        self.idf = {w: math.log(1 + (n - d + 0.5) / (d + 0.5)) for w, d in df.items()}

    def score(self, i: int, query: list[str], keywords: tuple[str, ...]) -> float:
        tf, length = self.toks[i], sum(self.toks[i].values())
        s = 0.0
        for w in query:
            if w in tf:
                f = tf[w]
                s += self.idf.get(w, 0.0) * f * (self.k1 + 1) / (
                    f + self.k1 * (1 - self.b + self.b * length / max(self.avg, 1)))
        text = self.items[i].text.lower()
        return s + sum(1.0 for k in keywords if k.lower() in text)

    def top(self, question: str, keywords: tuple[str, ...], k: int = 3) -> list[Clause]:
        """The ``k`` best clauses for a field, in document order."""
        query = words(question + " " + " ".join(keywords))
        ranked = sorted(range(len(self.items)), key=lambda i: -self.score(i, query, keywords))
        best = [i for i in ranked[:k] if self.score(i, query, keywords) > 0]
        return [self.items[i] for i in sorted(best)]
