"""Summarize one document with one Engine: a single pass when it fits the context, else
structure-aware pieces combined by map-reduce or incremental refine; then the faithfulness
checks and the action items. See :func:`summarize`."""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from slmkit.apps import llm
from slmkit.apps.documents import Document
from slmkit.apps.split import split
from slmkit.apps.summarize import prompts
from slmkit.apps.summarize.actions import action_items
from slmkit.apps.summarize.checks import check
from slmkit.apps.text import detect_language
from slmkit.core.engine import Engine
from slmkit.core.options import opt

STRATEGIES = ("auto", "map-reduce", "refine")
# Picked by measurement (docs/apps-documents.md, benchmarks/summarize.py --strategies).
DEFAULT_STRATEGY = "map-reduce"
FALLBACK_CTX = 4096
MARGIN = 16


@dataclass
class SummaryOptions:
    """``style``: bullets | paragraph | actions; ``lang``: auto | ko | en; ``max_words``:
    the summary's length; ``strategy`` for documents longer than the context; ``context``:
    a smaller token window than the model's (to force splitting, e.g. for measurement)."""

    style: str = opt("bullets", choices=prompts.STYLES)
    lang: str = opt("auto", choices=("auto", "ko", "en"))
    max_words: int = opt(120)
    strategy: str = opt("auto", "for documents longer than the context (auto: the measured "
                                "best)", choices=STRATEGIES)
    context: int | None = None

    def validate(self) -> None:
        if self.style not in prompts.STYLES:
            raise ValueError(f"style: one of {', '.join(prompts.STYLES)}, got {self.style!r}")
        if self.lang not in ("auto", "ko", "en"):
            raise ValueError(f"lang: one of auto, ko, en, got {self.lang!r}")
        if not 10 <= self.max_words <= 2000:
            raise ValueError(f"max_words: between 10 and 2000, got {self.max_words}")
        if self.strategy not in STRATEGIES:
            raise ValueError(f"strategy: one of {', '.join(STRATEGIES)}, got {self.strategy!r}")
        if self.context is not None and self.context < 256:
            raise ValueError(f"context: at least 256 tokens, got {self.context}")


class PieceCache:
    """Answers by (model, prompt), least recently used dropped first: re-summarizing an
    edited document re-runs only the pieces that changed."""

    def __init__(self, size: int = 512) -> None:
        self.size, self._d, self.hits = size, OrderedDict(), 0

    def get(self, key: str) -> str | None:
        if key in self._d:
            self._d.move_to_end(key)
            self.hits += 1
            return self._d[key]
        return None

    def put(self, key: str, value: str) -> None:
        self._d[key] = value
        self._d.move_to_end(key)
        while len(self._d) > self.size:
            self._d.popitem(last=False)


class Run:
    """The model calls of one summary: asking (through the cache), counting, progress."""

    def __init__(self, engine: Engine, lang: str, cache: PieceCache | None,
                 progress: Callable[[dict], None] | None, name: str) -> None:
        self.engine, self.lang, self.cache = engine, lang, cache
        self.progress, self.name = progress, name
        self.calls = llm.Calls()
        self.system = prompts.system(lang)

    def ask(self, user: str, max_tokens: int, step: str) -> str:
        key = hashlib.sha256(f"{self.engine.info.name}\0{self.system}\0{user}\0{max_tokens}"
                             .encode()).hexdigest()
        hit = self.cache.get(key) if self.cache else None
        if hit is None:
            hit = llm.ask(self.engine, self.system, user, max_tokens=max_tokens,
                          calls=self.calls)
            if self.cache:
                self.cache.put(key, hit)
        if self.progress:
            self.progress({"document": self.name, "step": step})
        return hit

    def count(self, text: str) -> int:
        return llm.count_tokens(self.engine, text)


def _budget(run: Run, opts: SummaryOptions, lang: str, answer: int) -> int:
    n_ctx = run.engine.info.n_ctx or FALLBACK_CTX
    if opts.context:
        n_ctx = min(n_ctx, opts.context)
    overhead = llm.prompt_size(run.engine, run.system,
                               prompts.refine("", "", lang, opts.style, opts.max_words))
    budget = n_ctx - overhead - answer - MARGIN
    if budget < 64:
        raise ValueError(f"the model's context ({n_ctx} tokens) leaves no room for text: "
                         f"load it with a larger context (--ctx)")
    return budget


def _map_reduce(run: Run, pieces: list[str], lang: str, opts: SummaryOptions,
                answer: int, budget: int) -> str:
    n = len(pieces)
    parts = [run.ask(prompts.map_piece(p, lang, opts.style, opts.max_words, i, n), answer,
                     f"map {i}/{n}") for i, p in enumerate(pieces, 1)]
    while True:
        prompt = prompts.reduce(parts, lang, opts.style, opts.max_words)
        if run.count(prompt) <= budget + answer or len(parts) == 1:
            return run.ask(prompt, answer, "reduce")
        groups, cur = [], []
        for p in parts:  # reduce in groups that fit, then reduce the group summaries
            if cur and run.count(prompts.reduce([*cur, p], lang, opts.style,
                                                opts.max_words)) > budget + answer:
                groups.append(cur)
                cur = []
            cur.append(p)
        groups.append(cur)
        if len(groups) == len(parts):  # no grouping possible: combine pairwise
            groups = [parts[i:i + 2] for i in range(0, len(parts), 2)]
        parts = [run.ask(prompts.reduce(g, lang, opts.style, opts.max_words), answer,
                         "reduce") for g in groups]


def _refine(run: Run, pieces: list[str], lang: str, opts: SummaryOptions, answer: int) -> str:
    n = len(pieces)
    summary = run.ask(prompts.map_piece(pieces[0], lang, opts.style, opts.max_words, 1, n),
                      answer, f"refine 1/{n}")
    for i, piece in enumerate(pieces[1:], 2):
        summary = run.ask(prompts.refine(summary, piece, lang, opts.style, opts.max_words),
                          answer, f"refine {i}/{n}")
    return summary


def summarize(doc: Document, engine: Engine, opts: SummaryOptions | None = None, *,
              cache: PieceCache | None = None,
              progress: Callable[[dict], None] | None = None) -> dict:
    """The summary of ``doc`` as a JSON-able dict: ``summary``, ``language``,
    ``action_items``, ``key_facts`` (each with the supporting source text and location),
    ``flags`` (claims without support, numbers/dates not in the source), ``split`` (how a
    long document was divided: never silently), ``attachments``, ``usage``, ``seconds``."""
    opts = opts or SummaryOptions()
    opts.validate()
    t0 = time.perf_counter()
    lang = opts.lang if opts.lang != "auto" else detect_language(doc.text)
    run = Run(engine, lang, cache, progress, doc.name)
    answer = prompts.max_tokens(lang, opts.max_words)
    budget = _budget(run, opts, lang, answer)
    strategy = DEFAULT_STRATEGY if opts.strategy == "auto" else opts.strategy
    if run.count(doc.text) <= budget:
        summary = run.ask(prompts.direct(doc.text, lang, opts.style, opts.max_words), answer,
                          "summary")
        how = {"strategy": "single", "pieces": 1, "budget_tokens": budget}
    else:
        room = budget - answer if strategy == "refine" else budget  # refine re-reads its summary
        pieces, how = split(doc, room, run.count)
        texts = [p.text for p in pieces]
        summary = (_refine(run, texts, lang, opts, answer) if strategy == "refine"
                   else _map_reduce(run, texts, lang, opts, answer, budget))
        how = {"strategy": strategy, **how}
    result = {"document": doc.name, "kind": doc.kind, "language": lang, "style": opts.style,
              "summary": summary, "action_items": action_items(doc)}
    result.update(check(summary, doc))
    result.update({"split": how, "attachments": doc.attachments, "meta": doc.meta,
                   "model": engine.info.name, "usage": run.calls.to_dict(),
                   "seconds": round(time.perf_counter() - t0, 3)})
    return result
