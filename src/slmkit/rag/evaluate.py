"""Evaluate retrieval and answers on a QA set.

A QA line is ``{"question", "answer"?, "evidence"?, "source"?, "kind"?, "answerable"?}``.
A retrieved chunk is *relevant* when it contains ``evidence`` (case-insensitive, spaces
normalised) and, if ``source`` is given, comes from a file of that name. Questions with
``"answerable": false`` are left out of hit@k / MRR and used for the "I don't know" rate.

Faithfulness of an answer is the share of its sentences supported by a cited chunk: by
default a sentence is supported when at least half of its content words that are not in the
question occur in the chunk, or its embedding has cosine ≥ 0.6 with the chunk's; with a judge engine, when the judge
answers "yes" to "does the passage support the sentence?".
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from slmkit.core.retrieval import Passage

_WS = re.compile(r"\s+")
_WORD = re.compile(r"\w+", re.UNICODE)
_SENT = re.compile(r"(?<=[.!?])\s+|\n+")
_CITE = re.compile(r"\[\d+(?:\s*[,;]\s*\d+)*\]")
SUPPORT_OVERLAP = 0.5
SUPPORT_COSINE = 0.6
_STOP = frozenset(["a", "an", "the", "and", "or", "of", "in", "on", "to", "for", "with", "is", "are", "was", "were", "be", "by", "as", "at", "it", "its", "this", "that", "these", "those", "from", "which", "who", "what", "when", "where", "how", "i", "you", "we", "they", "he", "she", "not", "no", "yes", "do", "does", "did", "has", "have", "had", "can", "could", "will", "would", "should", "may", "might", "there", "their", "them", "than", "then", "so"])


def load_qa(path: str | Path) -> list[dict]:
    items = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError as err:
                raise ValueError(f"{path}:{n}: not JSON: {err}") from None
            if not isinstance(item, dict) or not item.get("question"):
                raise ValueError(f"{path}:{n}: each line needs a \"question\"")
            items.append(item)
    return items


def _norm(text: str) -> str:
    return _WS.sub(" ", text).strip().lower()


def is_relevant(p: Passage, item: dict) -> bool:
    ev, src = item.get("evidence"), item.get("source")
    if src and p.source.rsplit("/", 1)[-1] != src:
        return False
    if ev and _norm(ev) not in _norm(p.text):
        return False
    return bool(ev or src)


def retrieval_metrics(search: Callable[[str, int], list[Passage]], qa: Sequence[dict], *,
                      k: int = 5) -> dict:
    """hit@k and MRR@10 overall and per ``kind``; ``search(question, n)`` returns passages."""
    per: dict[str, list[tuple[int, float]]] = {}
    top_sim: dict[str, list[float]] = {}
    seconds = []
    for item in qa:
        t = time.perf_counter()
        hits = search(item["question"], max(k, 10))
        seconds.append(time.perf_counter() - t)
        kind = item.get("kind", "all")
        top_sim.setdefault(kind, []).append(max((h.similarity for h in hits), default=0.0))
        if item.get("answerable", True) is False:
            continue
        rank = next((i for i, h in enumerate(hits[:10], 1) if is_relevant(h, item)), 0)
        per.setdefault(kind, []).append((1 if 0 < rank <= k else 0, 1.0 / rank if rank else 0.0))
    out: dict = {"k": k, "n": sum(len(v) for v in per.values())}
    allv = [x for v in per.values() for x in v]
    out[f"hit@{k}"] = round(sum(h for h, _ in allv) / len(allv), 4) if allv else 0.0
    out["mrr@10"] = round(sum(r for _, r in allv) / len(allv), 4) if allv else 0.0
    out["by_kind"] = {kind: {"n": len(v), f"hit@{k}": round(sum(h for h, _ in v) / len(v), 4),
                             "mrr@10": round(sum(r for _, r in v) / len(v), 4)}
                      for kind, v in per.items() if v}
    out["top_similarity"] = {kind: round(sum(v) / len(v), 4) for kind, v in top_sim.items()}
    seconds.sort()
    if seconds:
        out["p50_ms"] = round(seconds[len(seconds) // 2] * 1000, 2)
        out["p95_ms"] = round(seconds[min(len(seconds) - 1, int(len(seconds) * 0.95))] * 1000, 2)
    return out


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENT.split(_CITE.sub(" ", text)) if len(_WORD.findall(s)) >= 3]


def _content(text: str) -> set[str]:
    return {w for w in (x.lower() for x in _WORD.findall(text)) if w not in _STOP and len(w) > 1}


def supported(sentence: str, passages: Sequence[Passage], *, embedder=None, judge=None,
              question: str = "") -> bool:
    """Whether a cited passage supports ``sentence``. Words the question already holds do
    not count: "The resolution for ERR-4012 is 1." must find "1" in a source, not just
    the echoed question; a sentence that only restates the question is unsupported."""
    if not passages:
        return False
    if judge is not None:
        return any(_judge(judge, sentence, p.text) for p in passages)
    words = _content(sentence) - _content(question)
    if not words:
        return False
    for p in passages:
        if words and len(words & _content(p.text)) / len(words) >= SUPPORT_OVERLAP:
            return True
    if embedder is not None:
        import numpy as np

        vecs = np.asarray(embedder.embed([sentence] + [p.text for p in passages]))
        return bool((vecs[1:] @ vecs[0]).max() >= SUPPORT_COSINE)
    return False


def faithfulness(answer: str, cited: Sequence[Passage], *, embedder=None, judge=None,
                 question: str = "") -> float | None:
    """Share of the answer's sentences supported by a cited passage (None: no sentences)."""
    sents = sentences(answer)
    if not sents:
        return None
    ok = sum(supported(s, cited, embedder=embedder, judge=judge, question=question)
             for s in sents)
    return ok / len(sents)


def _judge(engine, sentence: str, passage: str) -> bool:
    from slmkit.core.types import GREEDY, ChatMessage, GenerateRequest, collect

    msgs = [ChatMessage("system", "You check facts. Reply with one word: yes or no."),
            ChatMessage("user", f"Passage:\n{passage}\n\nStatement: {sentence}\n\n"
                                "Does the passage support the statement? Answer yes or no.")]
    out = collect(engine.generate(GenerateRequest(messages=msgs, max_tokens=3, sampling=GREEDY,
                                                  truncate=True)))
    return out.text.strip().lower().startswith("yes")


def answer_metrics(ask: Callable[[str], object], qa: Sequence[dict], *, embedder=None,
                   judge=None, limit: int | None = None) -> dict:
    """Faithfulness, citation rate and "I don't know" rates over answers from ``ask``
    (which returns a :class:`slmkit.rag.answer.Answer`)."""
    from slmkit.rag.cite import says_dont_know

    scores, cited, abstain_ok, abstain_wrong, n = [], 0, [], [], 0
    for item in list(qa)[:limit] if limit else qa:
        ans = ask(item["question"])
        n += 1
        answerable = item.get("answerable", True) is not False
        # abstained: not asked (weak retrieval) or said it does not know; an answer no
        # source supports is not grounded but did not abstain, and is scored (0)
        abstained = not ans.generate_seconds or says_dont_know(ans.text)
        (abstain_wrong if answerable else abstain_ok).append(abstained)
        if abstained:
            continue
        cited += bool(ans.cited_by_model)
        f = faithfulness(ans.text, ans.cited_passages(), embedder=embedder, judge=judge,
                         question=item["question"])
        if f is not None:
            scores.append(f)
    return {"n": n, "faithfulness": round(sum(scores) / len(scores), 4) if scores else None,
            "answers_scored": len(scores), "cited_by_model": cited,
            "dont_know_on_unanswerable": _rate(abstain_ok),
            "dont_know_on_answerable": _rate(abstain_wrong), "judge": judge is not None}


def _rate(xs: list[bool]) -> float | None:
    return round(sum(xs) / len(xs), 4) if xs else None


def evaluate_collection(coll, embedder, qa: Sequence[dict], *, k: int = 5, mode: str = "hybrid",
                        filters=None, mmr: float | None = None, engine=None, judge=None,
                        answers: int = 0) -> dict:
    """Retrieval metrics of ``coll`` on ``qa`` (:func:`retrieval_metrics`) and, with an
    ``engine`` and ``answers`` > 0, answer metrics of its first ``answers`` questions
    (:func:`answer_metrics`, scored by ``judge`` when given)."""
    from slmkit.rag.answer import answer
    from slmkit.rag.retrieve import Retriever, search

    report = {"retrieval": retrieval_metrics(
        lambda q, n: search(coll, embedder, q, k=n, mode=mode, filters=filters, mmr=mmr),
        qa, k=k)}
    if engine is not None and answers:
        retriever = Retriever(coll, embedder, mode=mode, filters=filters, mmr=mmr)
        report["answers"] = answer_metrics(lambda q: answer(engine, retriever, q, k=k), qa,
                                           embedder=embedder, judge=judge, limit=answers)
    return report


def summary_lines(report: dict) -> list[str]:
    """What `slm rag eval` prints for a report (``collection``, ``mode`` and
    :func:`evaluate_collection`'s ``retrieval`` and optional ``answers`` with ``model``)."""
    r = report["retrieval"]
    hit = f"hit@{r['k']}"
    lines = [f"{report['collection']} ({report['mode']}, {r['n']} questions): {hit} "
             f"{r[hit]:.3f} · MRR@10 {r['mrr@10']:.3f}"]
    lines += [f"  {kind}: n={m['n']} {hit} {m[hit]:.3f} · MRR@10 {m['mrr@10']:.3f}"
              for kind, m in r["by_kind"].items()]
    if a := report.get("answers"):
        lines.append(f"answers ({a['model']}, {a['n']}): faithfulness {a['faithfulness']} · "
                     f"cited by model {a['cited_by_model']}/{a['answers_scored']} · "
                     f"\"I don't know\" on unanswerable {a['dont_know_on_unanswerable']}, "
                     f"on answerable {a['dont_know_on_answerable']}")
    return lines
