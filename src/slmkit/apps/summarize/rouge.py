"""ROUGE-1/2/L over Korean morphemes (kiwipiepy) or English words, and the share of gold
extract sentences a summary covers.

``rouge_score``'s default tokenizer keeps only ``[a-z0-9]`` and scores every Korean
summary 0: never report that. Here Korean text is split into morphemes by Kiwi (the ``apps``
extra installs kiwipiepy); punctuation is dropped; English is lower-cased words.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache

from slmkit.apps.text import HANGUL

PUNCT_TAGS = ("SF", "SP", "SS", "SE", "SO", "SW")  # Kiwi's punctuation/symbol tags
LATIN_WORD = re.compile(r"[a-z0-9]+")
COVERED = 0.5  # a gold sentence is covered when half its content morphemes are in the summary
CONTENT_TAGS = ("NN", "NR", "NP", "VV", "VA", "XR", "SL", "SN", "SH", "MAG")


@lru_cache(maxsize=1)
def _kiwi():
    try:
        from kiwipiepy import Kiwi
    except ImportError as err:
        raise ImportError("Korean ROUGE needs kiwipiepy: pip install 'slmkit[apps]'") from err
    return Kiwi()


@lru_cache(maxsize=4096)
def _morphemes(text: str) -> tuple[str, ...]:
    return tuple(t.form for t in _kiwi().tokenize(text) if not t.tag.startswith(PUNCT_TAGS))


@lru_cache(maxsize=4096)
def _content(text: str) -> tuple[str, ...]:
    return tuple(t.form for t in _kiwi().tokenize(text) if t.tag.startswith(CONTENT_TAGS))


def content_tokens(text: str) -> list[str]:
    """Nouns, verb and adjective stems, numbers, foreign words (Korean); words otherwise."""
    if HANGUL.search(text):
        return list(_content(text))
    return LATIN_WORD.findall(text.lower())


def tokens(text: str) -> list[str]:
    """Morphemes for Korean text (any Hangul in it), lower-case words otherwise."""
    if HANGUL.search(text):
        return list(_morphemes(text))
    return LATIN_WORD.findall(text.lower())


def _ngrams(toks: Sequence[str], n: int) -> Counter:
    return Counter(tuple(toks[i:i + n]) for i in range(len(toks) - n + 1))


def _prf(overlap: int, cand: int, ref: int) -> dict[str, float]:
    p = overlap / cand if cand else 0.0
    r = overlap / ref if ref else 0.0
    return {"p": p, "r": r, "f": 2 * p * r / (p + r) if p + r else 0.0}


def rouge_n(cand: Sequence[str], ref: Sequence[str], n: int) -> dict[str, float]:
    c, r = _ngrams(cand, n), _ngrams(ref, n)
    return _prf(sum((c & r).values()), sum(c.values()), sum(r.values()))


def lcs(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common subsequence (O(len(a)·len(b)), one row of memory)."""
    if not a or not b:
        return 0
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b, 1):
            cur.append(prev[j - 1] + 1 if x == y else max(prev[j], cur[-1]))
        prev = cur
    return prev[-1]


def rouge(candidate: str, reference: str) -> dict[str, float]:
    """``{"rouge1", "rouge2", "rougeL"}`` F-measures of ``candidate`` against
    ``reference`` over :func:`tokens`."""
    c, r = tokens(candidate), tokens(reference)
    return {"rouge1": rouge_n(c, r, 1)["f"], "rouge2": rouge_n(c, r, 2)["f"],
            "rougeL": _prf(lcs(c, r), len(c), len(r))["f"]}


def gold_recall(summary: str, gold_sentences: Sequence[str]) -> float:
    """The share of gold sentences at least half of whose content morphemes (particles and
    endings left out: they would match anything) are in the summary."""
    if not gold_sentences:
        return 0.0
    have = Counter(content_tokens(summary))
    covered = 0
    for s in gold_sentences:
        need = Counter(content_tokens(s))
        if need and sum((need & have).values()) / sum(need.values()) >= COVERED:
            covered += 1
    return covered / len(gold_sentences)
