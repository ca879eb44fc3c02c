"""Grounded answers: retrieve → numbered sources in the prompt → answer with [n] citations.

When the best retrieved chunk is too far from the question (cosine similarity under
``threshold``) and no chunk holds an identifier of the question exactly, the model is not
asked at all and the answer says it does not know. The
default threshold is measured on the synthetic QA set (``benchmarks/rag.py``: 0.26 is the
cosine that best separates answerable from unanswerable questions for all-MiniLM-L6-v2,
86 % correct; their median top similarities are 0.44 and 0.26).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from slmkit.core.engine import Engine
from slmkit.core.retrieval import Passage, Retriever
from slmkit.core.types import GREEDY, ChatMessage, Chunk, GenerateRequest, SamplingParams

DEFAULT_THRESHOLD = 0.26
ANSWER_TOKENS = 256  # an answer's budget when the request names none
DONT_KNOW = ("I don't know: the documents I searched do not contain an answer to this "
             "question.")
# Measured on smollm2-135m-instruct (greedy): sources in the system turn and the bare
# question as the user turn gives the right short answer; sources and question together in
# the user turn, or a demand for [n] after every fact, make it list or invent sources.
INSTRUCTIONS = ("Answer the user's question briefly from the sources, in one or two "
                "sentences of your own; do not copy the sources out. Cite the source you "
                "used like [1]. If the sources do not say, answer \"I don't know\".")
SYSTEM = INSTRUCTIONS
_CITE = re.compile(r"\[(\d+(?:\s*[,;]\s*\d+)*)\]")
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass
class Answer:
    question: str
    text: str
    passages: list[Passage] = field(default_factory=list)  # the numbered sources, [1] first
    cited: list[int] = field(default_factory=list)  # source numbers the answer relies on
    cited_by_model: bool = False  # True: the model's own [n], each checked against source n
    grounded: bool = True  # False: retrieval was weak, or no source supports the answer
    rejected: list[int] = field(default_factory=list)  # the model's [n] its source does not
    # support (see slmkit.rag.cite)
    top_similarity: float = 0.0
    retrieval_seconds: float = 0.0
    generate_seconds: float = 0.0

    def cited_passages(self) -> list[Passage]:
        return [self.passages[n - 1] for n in self.cited if 0 < n <= len(self.passages)]

    def citations(self) -> list[dict]:
        return [{"n": n, "source": p.source, "locator": p.locator(), "chunk_id": p.chunk_id}
                for n, p in zip(self.cited, self.cited_passages(), strict=True)]

    def to_dict(self) -> dict:
        return {"question": self.question, "answer": self.text, "grounded": self.grounded,
                "citations": self.citations(), "cited_by_model": self.cited_by_model,
                "rejected_citations": self.rejected,
                "top_similarity": round(self.top_similarity, 4),
                "sources": [dict(p.to_dict(), n=i) for i, p in enumerate(self.passages, 1)],
                "retrieval_seconds": round(self.retrieval_seconds, 4),
                "generate_seconds": round(self.generate_seconds, 4)}


def source_block(passages: Sequence[Passage]) -> str:
    return "\n\n".join(f"[{i}] ({p.locator()})\n{p.text.strip()}"
                       for i, p in enumerate(passages, 1))


def fit_passages(engine: Engine, question: str, passages: Sequence[Passage], *,
                 max_tokens: int, history_tokens: int = 0) -> list[Passage]:
    """The leading passages that fit the model's context with room for the answer."""
    n_ctx = engine.info.n_ctx or 2048
    budget = n_ctx - max_tokens - history_tokens - 96 - len(engine.tokenize(
        SYSTEM + question, add_special=False))
    out, used = [], 0
    for p in passages:
        cost = len(engine.tokenize(p.text, add_special=False)) + 16
        if used + cost > budget:
            break
        out.append(p)
        used += cost
    return out


def build_messages(question: str, passages: Sequence[Passage], *,
                   system: str | None = None,
                   history: Sequence[ChatMessage] = ()) -> list[ChatMessage]:
    """System turn: (the caller's system text,) the numbered sources, the instructions;
    then the conversation so far and the question as the user turn."""
    head = f"{system}\n\n" if system else ""
    sys_text = f"{head}Sources:\n\n{source_block(passages)}\n\n{INSTRUCTIONS}"
    return [ChatMessage("system", sys_text), *history, ChatMessage("user", question)]


def stop_strings(passages: Sequence[Passage]) -> list[str]:
    """Where a model that starts copying the numbered sources out (a line ``[2] (file:3-9)``,
    a ``Sources:`` heading) is stopped: those lines begin what it has no reason to write
    (a citation inside a sentence, ``… [2].``, does not start a line)."""
    return ["\nSources:", *(f"\n[{i}] (" for i in range(1, len(passages) + 1))]


def parse_citations(text: str, n_sources: int) -> list[int]:
    seen: list[int] = []
    for group in _CITE.findall(text):
        for num in re.split(r"[,;]", group):
            n = int(num)
            if 0 < n <= n_sources and n not in seen:
                seen.append(n)
    return seen


def attribute(text: str, passages: Sequence[Passage], *, min_overlap: float = 0.3) -> list[int]:
    """Source numbers whose words cover at least ``min_overlap`` of the answer's words,
    best first (used when the model gave no citation)."""
    words = {w.lower() for w in _WORD.findall(text) if len(w) > 2}
    if not words:
        return []
    scored = []
    for i, p in enumerate(passages, 1):
        cover = len(words & {w.lower() for w in _WORD.findall(p.text)}) / len(words)
        if cover >= min_overlap:
            scored.append((cover, i))
    return [i for _, i in sorted(scored, key=lambda t: (-t[0], t[1]))[:2]]  # ties: rank


def is_weak(passages: Sequence[Passage], threshold: float) -> bool:
    """No passage, or none close to the question (cosine under ``threshold``) and none
    holding an identifier of the question (``ranks["exact"]``: an error code or ticket
    number matches exactly even where the embedder sees little similarity)."""
    if not passages:
        return True
    if any(p.ranks.get("exact") for p in passages):
        return False
    return max(p.similarity for p in passages) < threshold


def finish(answer: Answer) -> Answer:
    """Fill in citations from the answer text, each checked against the passage it names
    (:func:`slmkit.rag.cite.check`): unsupported ones are rejected and the supporting
    passages cited instead; ``grounded`` only when some passage supports the answer."""
    from slmkit.rag.cite import check

    model = parse_citations(answer.text, len(answer.passages))
    got = check(answer.text, [p.text for p in answer.passages], model,
                question=answer.question)
    answer.cited, answer.cited_by_model = got.cited, got.cited_by_model
    answer.grounded, answer.rejected = got.grounded, got.rejected
    return answer


def answer(engine: Engine, retriever: Retriever, question: str, *, k: int = 5,
           max_tokens: int = 256, threshold: float = DEFAULT_THRESHOLD,
           sampling: SamplingParams = GREEDY, system: str | None = None) -> Answer:
    """Retrieve, then answer ``question`` from the sources with citations."""
    from slmkit.core.types import collect

    t0 = time.perf_counter()
    hits = retriever.retrieve(question, k)
    ans = Answer(question, DONT_KNOW, list(hits), grounded=False,
                 top_similarity=max((p.similarity for p in hits), default=0.0),
                 retrieval_seconds=time.perf_counter() - t0)
    if is_weak(hits, threshold):
        return ans
    ans.passages = fit_passages(engine, question, hits, max_tokens=max_tokens)
    messages = build_messages(question, ans.passages, system=system)
    t1 = time.perf_counter()
    out = collect(engine.generate(GenerateRequest(messages=messages, max_tokens=max_tokens,
                                                  sampling=sampling, truncate=True,
                                                  stop=stop_strings(ans.passages))))
    ans.generate_seconds = time.perf_counter() - t1
    ans.text, ans.grounded = out.text.strip(), True
    return finish(ans)


def sources_footer(answer: Answer) -> str:
    cited = answer.citations()
    if not cited:
        return ""
    return "\n\nSources: " + "; ".join(f"[{c['n']}] {c['locator']}" for c in cited)


def stream_text(text: str) -> Iterator[Chunk]:
    for word in re.findall(r"\S+\s*|\s+", text):
        yield Chunk(word)
