"""A summary asked for in a chat prompt ("다음 이메일을 세 줄로 요약해줘: …"), answered with
the summarizer's prompt instead of the prompt as typed.

Measured (benchmarks/korean_summary.py, docs/first-contact.md): sent as typed, the default
model (qwen2.5-coder-0.5b-instruct) gave a short Korean e-mail back verbatim; with the text
first and the summarizer's Korean task after it, it writes short lines. Only Korean asks
are rerouted (English ones were already answered as summaries)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from slmkit.apps.summarize import prompts
from slmkit.apps.text import HANGUL

MIN_TEXT = 80  # characters: shorter "texts" are questions, not documents to summarize
MAX_HEAD = 120  # the ask itself: one short line before the text
COUNT = re.compile(r"(\d+|한|두|세|네|다섯|여섯|일곱|여덟|아홉|열)\s*(?:줄|문장|가지|개|항목|줄로)")
KOREAN_COUNTS = {"한": 1, "두": 2, "세": 3, "네": 4, "다섯": 5, "여섯": 6, "일곱": 7, "여덟": 8,
                 "아홉": 9, "열": 10}
DEFAULT_ITEMS = 3
MAX_ITEMS = 10


@dataclass(frozen=True)
class SummaryAsk:
    """A Korean summary request: the text to summarize and the number of lines asked."""

    text: str
    items: int


def parse(prompt: str) -> SummaryAsk | None:
    """The summary request in ``prompt`` — a short Korean line that asks for a summary
    (요약), then ``:`` or a line break, then the text (at least ``MIN_TEXT`` characters,
    mostly Korean) — or None for any other prompt."""
    m = re.match(r"\s*([^\n:]{1,%d}?)\s*(?::|\n)\s*(.+)\Z" % MAX_HEAD, prompt, re.S)
    if not m or "요약" not in m.group(1):
        return None
    head, text = m.group(1), m.group(2).strip()
    letters = re.sub(r"[\W\d_]", "", text)
    if len(text) < MIN_TEXT or len(HANGUL.findall(letters)) < 0.5 * len(letters):
        return None
    return SummaryAsk(text, _count(head))


def _count(head: str) -> int:
    m = COUNT.search(head)
    if not m:
        return DEFAULT_ITEMS
    n = KOREAN_COUNTS.get(m.group(1)) or int(m.group(1))
    return max(1, min(MAX_ITEMS, n))


def rewrite(prompt: str) -> tuple[str, str] | None:
    """``(system, user)`` for a Korean summary request (see :func:`parse`): the
    summarizer's Korean system prompt, and the text followed by its bullet task for the
    number of lines asked; None when ``prompt`` is not such a request."""
    ask = parse(prompt)
    if ask is None:
        return None
    words = max(30, 15 * ask.items)
    return prompts.system("ko"), prompts.direct(ask.text, "ko", "bullets", words, ask.items)
