"""Language-aware text helpers shared by the apps: language detection, sentence spans,
word tokens for overlap, and numbers/dates for the faithfulness checks. Standard library
only (Korean morphemes for evaluation are in :mod:`slmkit.apps.summarize.rouge`)."""

from __future__ import annotations

import re
from dataclasses import dataclass

HANGUL = re.compile(r"[\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f]")
LATIN = re.compile(r"[A-Za-z]")
# A sentence ends at . ! ? 。 (or Korean 다./요. forms) followed by space, or at a line break.
SENTENCE_END = re.compile(r"(?<=[.!?。])[\"'”’)\]]*\s+|\n+")
WORD = re.compile(r"[\w\uac00-\ud7a3]+", re.UNICODE)
# Korean particles/endings stripped from a word's end for rough matching (not morphemes).
KO_SUFFIX = re.compile(r"(은|는|이|가|을|를|의|에|에서|에게|으로|로|와|과|도|만|까지|부터|"
                       r"이다|였다|했다|한다|하다|된다|됐다|있다|라고|이라고|며|고)$")
MONTHS = ("january|february|march|april|may|june|july|august|september|october|november|"
          "december|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec")
DATE = re.compile(
    r"\b\d{4}[-./]\d{1,2}[-./]\d{1,2}\b"  # 2024-03-05
    r"|\b\d{1,2}/\d{1,2}(?:/\d{2,4})?\b"  # 3/5, 3/5/2024
    rf"|\b(?:{MONTHS})\.?\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?\b"  # March 5, 2024
    rf"|\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:{MONTHS})\b(?:\s+\d{{4}})?"  # 5 March 2024
    r"|(?<!\d)(?:\d{4}년\s*)?\d{1,2}월\s*\d{1,2}일"  # 2024년 3월 5일, 3월 5일
    r"|(?<!\d)\d{4}년(?:\s*\d{1,2}월)?"  # 2024년, 2024년 3월
    r"|(?<!\d)\d{1,2}일",  # 1일 (Korean news: the day of this month)
    re.I)
NUMBER = re.compile(r"(?<![\d.,A-Za-z])\d+(?:[.,]\d+)*(?!\d)")


@dataclass(frozen=True)
class Sentence:
    text: str
    start: int
    end: int


def detect_language(text: str) -> str:
    """``ko`` when Hangul makes up at least a fifth of the letters, ``en`` when Latin
    letters dominate, else ``other``."""
    sample = text[:20000]
    ko, latin = len(HANGUL.findall(sample)), len(LATIN.findall(sample))
    if ko + latin == 0:
        return "other"
    return "ko" if ko / (ko + latin) >= 0.2 else "en"


def sentences(text: str, offset: int = 0) -> list[Sentence]:
    """Sentences of ``text`` with their character spans (plus ``offset``), split at
    sentence punctuation followed by space and at line breaks; blank ones dropped."""
    out, start = [], 0
    for m in SENTENCE_END.finditer(text):
        _add(out, text, start, m.start(), offset)
        start = m.end()
    _add(out, text, start, len(text), offset)
    return out


def _add(out: list[Sentence], text: str, start: int, end: int, offset: int) -> None:
    piece = text[start:end]
    stripped = piece.strip()
    if stripped:
        lead = len(piece) - len(piece.lstrip())
        s = start + lead
        out.append(Sentence(stripped, offset + s, offset + s + len(stripped)))


def words(text: str) -> list[str]:
    """Lower-case word tokens with common Korean particles cut off (rough, stdlib only:
    for overlap between a summary and its source, not for reported scores)."""
    out = []
    for w in WORD.findall(text.lower()):
        if HANGUL.search(w) and len(w) > 2:
            w = KO_SUFFIX.sub("", w) or w
        out.append(w)
    return out


def overlap(claim: str, source: str) -> float:
    """The share of ``claim``'s distinct words found in ``source`` (0..1)."""
    c = set(words(claim))
    return len(c & set(words(source))) / len(c) if c else 0.0


def dates(text: str) -> list[str]:
    """Date expressions in ``text`` (ISO, US, English month names, Korean 년/월/일)."""
    return [m.group(0) for m in DATE.finditer(text)]


def numbers(text: str) -> list[str]:
    """Numbers in ``text`` as written (``1,200``, ``3.5``, ``2024``)."""
    return [m.group(0) for m in NUMBER.finditer(text)]


def _norm_number(s: str) -> str:
    s = s.replace(",", "")
    return s.rstrip("0").rstrip(".") if "." in s else s.lstrip("0") or "0"


def unsupported_numbers(claim: str, source: str) -> list[str]:
    """Numbers and dates of ``claim`` that ``source`` does not contain (numbers compared
    without thousands separators; a date is supported when all its numbers are in the
    source). A summary should have none."""
    have = {_norm_number(n) for n in numbers(source)}
    missing: list[str] = []
    for d in dates(claim):
        if not all(_norm_number(n) in have for n in numbers(d)) and d not in missing:
            missing.append(d)
    covered = " ".join(dates(claim))
    for n in numbers(claim):
        if _norm_number(n) not in have and n not in covered and n not in missing:
            missing.append(n)
    return missing
