"""Faithfulness of a summary to its source, without a model: every claim of the summary
is aligned to the source sentence that supports it (a key fact, with its location) or
flagged; numbers and dates the source does not contain are flagged."""

from __future__ import annotations

import re

from slmkit.apps.documents import Document
from slmkit.apps.text import Sentence, overlap, sentences, unsupported_numbers, words

MIN_SUPPORT = 0.5  # share of a claim's words found in its best source sentence
COPY_RUN = 12  # characters: a verbatim run at least this long counts as copied
ECHO_COVERED = 0.7  # a summary mostly made of copied runs …
ECHO_LENGTH = 0.6  # … and at least this share of the source's length gives the source back
BULLET = re.compile(r"^\s*(?:[-*•·]|\d+[.)])\s*")


def claims(summary: str) -> list[str]:
    """The summary's statements: its bullet lines, else its sentences."""
    lines = [BULLET.sub("", line).strip() for line in summary.splitlines()]
    bulleted = [line for line in lines if line]
    if len(bulleted) > 1:
        return bulleted
    return [s.text for s in sentences(summary)]


def source_sentences(doc: Document) -> list[Sentence]:
    return sentences(doc.text)


def best_support(claim: str, source: list[Sentence]) -> tuple[Sentence | None, float]:
    """The source sentence sharing most of ``claim``'s words, and that share. Two adjacent
    sentences are tried together too (a claim may merge them)."""
    best, score = None, 0.0
    cw = set(words(claim))
    if not cw:
        return None, 0.0
    for i, s in enumerate(source):
        if not cw & set(words(s.text)):
            continue
        for cand in (s, _join(s, source[i + 1]) if i + 1 < len(source) else None):
            if cand is None:
                continue
            sc = overlap(claim, cand.text)
            if sc > score + 1e-9 or (abs(sc - score) < 1e-9 and best and
                                     len(cand.text) < len(best.text)):
                best, score = cand, sc
    return best, score


def _join(a: Sentence, b: Sentence) -> Sentence:
    return Sentence(a.text + " " + b.text, a.start, b.end)


def covered_share(answer: str, source: str, n: int = COPY_RUN) -> float:
    """Share of ``answer``'s characters (whitespace collapsed) inside a run of at least
    ``n`` characters copied verbatim from ``source``."""
    a, s = (" ".join(t.split()) for t in (answer, source))
    if not a:
        return 0.0
    seen = {s[i:i + n] for i in range(max(0, len(s) - n + 1))}
    covered = [False] * len(a)
    for i in range(max(0, len(a) - n + 1)):
        if a[i:i + n] in seen:
            covered[i:i + n] = [True] * n
    return sum(covered) / len(a)


def echoes(summary: str, source: str) -> bool:
    """True when ``summary`` gives ``source`` back: over 70% of it copied verbatim and at
    least 60% of the source's length."""
    text = summary.strip()
    return (len(text) >= ECHO_LENGTH * len(source.strip())
            and covered_share(text, source) > ECHO_COVERED)


def check(summary: str, doc: Document) -> dict:
    """``{"key_facts": [...], "flags": [...]}`` for ``summary`` against ``doc``.

    A key fact: ``{"fact", "source", "location", "support"}`` where ``source`` is the
    document's own text at ``location``. A flag: ``{"kind": "unsupported_claim" |
    "unsupported_number" | "copied_input", "text", ...}``."""
    source = source_sentences(doc)
    facts, flags = [], []
    for claim in claims(summary):
        sent, score = best_support(claim, source)
        wrong = unsupported_numbers(claim, doc.text)
        if wrong and len(words(claim)) >= 2:
            flags.append({"kind": "unsupported_claim", "text": claim, "support": round(score, 2),
                          "note": f"{', '.join(wrong)} not in the source"})
        elif sent is not None and score >= MIN_SUPPORT:
            facts.append({"fact": claim, "source": doc.text[sent.start:sent.end],
                          "location": doc.location(sent.start, sent.end),
                          "support": round(score, 2)})
        elif len(words(claim)) >= 2:
            flags.append({"kind": "unsupported_claim", "text": claim,
                          "support": round(score, 2),
                          "note": "no sentence of the source supports this claim"})
    if echoes(summary, doc.text):
        share = covered_share(summary, doc.text)
        flags.append({"kind": "copied_input", "text": summary[:80],
                      "note": f"the summary repeats the document ({share:.0%} copied "
                              f"verbatim): try a larger model (slm catalog)"})
    for value in unsupported_numbers(summary, doc.text):
        flags.append({"kind": "unsupported_number", "text": value,
                      "note": "this number or date does not appear in the source"})
    return {"key_facts": facts, "flags": flags}
