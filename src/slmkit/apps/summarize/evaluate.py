"""Evaluate summarizers on a set of articles with gold extractive summaries. Two sets:
``ko``, the Korean news set (``NN.json`` with ``title``, ``sentences``, ``summaries`` = gold
sentence indices), and ``en``, the first 20 papers of ACLSum's test split (English; the
sentences of abstract, introduction and conclusion; gold = the human-written summary, and
the annotators' highlighted sentences as the gold extract), read from the files the
``aclsum`` package installs (MIT; no network).

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
from slmkit.util.files import append_row, read_rows

METRICS = ("rouge1", "rouge2", "rougeL", "gold_recall", "chars", "unsupported_numbers",
           "flags", "seconds")


SETS = ("ko", "en")
ACLSUM_DOCS = 20
ACLSUM_ASPECTS = ("challenge", "approach", "outcome")
ACLSUM_SECTIONS = ("abstract", "introduction", "conclusion")


@dataclass
class Article:
    """One document: its sentences, the gold extract's sentence indices and, when the set
    has one, a human-written summary (then the ROUGE reference)."""

    name: str
    title: str
    sentences: list[str]
    gold: list[int]
    written: str = ""

    @property
    def text(self) -> str:
        """One sentence per line (a line span is a sentence number)."""
        return "\n".join(self.sentences)

    @property
    def reference(self) -> str:
        """The ROUGE reference: the written summary, else the gold extract."""
        return self.written or "\n".join(self.sentences[i] for i in self.gold)


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


def load_aclsum(limit: int | None = None) -> list[Article]:
    """The English set: the first :data:`ACLSUM_DOCS` papers (at most ``limit``) of the
    ACLSum test split installed by the ``aclsum`` package (only its data file is read)."""
    from importlib.util import find_spec

    spec = find_spec("aclsum")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the English set comes with the aclsum package: "
                                "pip install 'slmkit[apps]' (or pip install aclsum)")
    path = Path(list(spec.submodule_search_locations)[0]) / "dataset" / "test.jsonl"
    out = []
    with path.open(encoding="utf-8") as f:
        for line in f:
            if len(out) >= min(limit or ACLSUM_DOCS, ACLSUM_DOCS):
                break
            out.append(_aclsum_article(json.loads(line)))
    return out


def _aclsum_article(d: dict) -> Article:
    sentences, gold = [], []
    for section in ACLSUM_SECTIONS:
        marks = zip(*(d["highlights"][a][section] for a in ACLSUM_ASPECTS))
        for sent, mark in zip(d["sentences"][section], marks):
            if any(mark):
                gold.append(len(sentences))
            sentences.append(sent)
    written = " ".join(d["summary"][a] for a in ACLSUM_ASPECTS)
    return Article(d["id"], d["title"], sentences, gold, written)


def load_named(name: str, folder: str | Path | None = None,
               limit: int | None = None) -> list[Article]:
    """Set ``name`` (``ko``: the articles of ``folder``; ``en``: :func:`load_aclsum`)."""
    if name not in SETS:
        raise ValueError(f"set: one of {', '.join(SETS)}, got {name!r}")
    if name == "en":
        return load_aclsum(limit)
    if folder is None:
        raise ValueError("the ko set needs its folder (../shared/data/ko-news-sum)")
    return load_set(folder, limit)


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
               progress: Callable[[int, int], None] | None = None,
               cache: str | Path | None = None) -> Iterator[dict]:
    """Per-article scores (and the summary) of one system. With ``cache`` (a JSON-lines
    file), rows already there are reused and each new row is appended as soon as it is
    scored, so an interrupted run resumes where it stopped."""
    done = read_rows(cache, "article") if cache else {}
    for i, a in enumerate(articles, 1):
        row = done.get(a.name)
        if row is None:
            t0 = time.perf_counter()
            out = system(a)
            row = score(a, out, time.perf_counter() - t0)
            row.update(article=a.name, summary=out["summary"])
            if cache:
                append_row(cache, row)
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


def evaluation(set_name: str, data: str, limit: int | None, engine: Engine, model: str,
               opts: SummaryOptions, progress=None) -> tuple[dict, str]:
    """`slm summarize eval`: every system's mean scores on the set ``set_name`` (``ko``: the
    articles in ``data``; ``en``: ACLSum), as JSON and as text."""
    from slmkit.apps.summarize.text import scores_text

    articles = load_named(set_name, data, limit)
    means = compare(articles, engine, model, opts, progress)
    source = data if set_name == "ko" else "ACLSum test split (aclsum package)"
    return ({"set": set_name, "data": source, "systems": means},
            scores_text(source, len(articles), means))
