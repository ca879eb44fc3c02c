"""Evaluate summarizers on a set of articles with gold extractive summaries (the Korean
news set: ``NN.json`` with ``title``, ``sentences``, ``summaries`` = gold sentence indices).

Every system is scored the same way on the same articles in one run: ROUGE-1/2/L over
morphemes against the gold extract, gold-sentence recall, length, numbers/dates not in the
source (faithfulness), seconds per article. Baselines: ``lead3`` and ``textrank``; models
through :func:`~slmkit.apps.summarize.pipeline.summarize`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from slmkit.apps.documents import from_text
from slmkit.apps.summarize import extractive, rouge
from slmkit.apps.summarize.pipeline import SummaryOptions, summarize
from slmkit.apps.text import unsupported_numbers
from slmkit.core.engine import Engine

METRICS = ("rouge1", "rouge2", "rougeL", "gold_recall", "chars", "unsupported_numbers",
           "flags", "seconds")


@dataclass
class Article:
    name: str
    title: str
    sentences: list[str]
    gold: list[int]

    @property
    def text(self) -> str:
        """One sentence per line (a line span is a sentence number)."""
        return "\n".join(self.sentences)

    @property
    def reference(self) -> str:
        return "\n".join(self.sentences[i] for i in self.gold)


def load_set(folder: str | Path, limit: int | None = None) -> list[Article]:
    """The articles of ``folder`` (``*.json``, sorted), at most ``limit``."""
    files = sorted(Path(folder).glob("*.json"))
    if not files:
        raise FileNotFoundError(f"no *.json articles in {folder}")
    out = []
    for f in files[:limit]:
        d = json.loads(f.read_text(encoding="utf-8"))
        out.append(Article(f.stem, d.get("title", ""), list(d["sentences"]),
                           list(d["summaries"])))
    return out


def baseline(kind: str) -> Callable[[Article], dict]:
    """``lead3`` or ``textrank`` as a system: k = the gold extract's length capped at 3…"""
    pick = {"lead3": extractive.lead, "textrank": extractive.textrank}[kind]

    def run(article: Article) -> dict:
        idx = pick(article.sentences, 3)
        return {"summary": "\n".join(article.sentences[i] for i in idx), "flags": []}

    return run


def model_system(engine: Engine, opts: SummaryOptions) -> Callable[[Article], dict]:
    def run(article: Article) -> dict:
        return summarize(from_text(article.name, article.text), engine, opts)

    return run


def score(article: Article, out: dict, seconds: float) -> dict:
    summary = out["summary"]
    r = rouge.rouge(summary, article.reference)
    return {**r, "gold_recall": rouge.gold_recall(summary, [article.sentences[i]
                                                            for i in article.gold]),
            "chars": len(summary),
            "unsupported_numbers": len(unsupported_numbers(summary, article.text)),
            "flags": len(out.get("flags", [])), "seconds": seconds}


def run_system(articles: list[Article], system: Callable[[Article], dict],
               progress: Callable[[int, int], None] | None = None) -> Iterator[dict]:
    """Per-article scores (and the summary) of one system."""
    for i, a in enumerate(articles, 1):
        t0 = time.perf_counter()
        out = system(a)
        row = score(a, out, time.perf_counter() - t0)
        row.update(article=a.name, summary=out["summary"])
        if progress:
            progress(i, len(articles))
        yield row


def mean(rows: list[dict]) -> dict:
    """The mean of every metric over ``rows``."""
    n = max(1, len(rows))
    return {m: round(sum(r[m] for r in rows) / n, 4) for m in METRICS} | {"n": len(rows)}


def compare(articles: list[Article], engine: Engine, name: str, opts: SummaryOptions,
            progress: Callable[[str, int, int], None] | None = None) -> dict[str, dict]:
    """Mean scores of the lead-3 and TextRank baselines and of the model ``name`` (through
    ``engine`` with ``opts``) on ``articles``; ``progress(system, i, n)``."""
    systems = {"lead3": baseline("lead3"), "textrank": baseline("textrank"),
               name: model_system(engine, opts)}
    return {s: mean(list(run_system(articles, system, lambda i, n, s=s: progress and
                                    progress(s, i, n))))
            for s, system in systems.items()}
