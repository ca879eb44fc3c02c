"""RAG over collections by name, as `slm rag` runs it: open the collection, its embedder
from the model store (the one it was built with, unless another is named), then ingest,
search, answer or evaluate. For Python users who want the command's behaviour in a call:

    from slmkit.rag import flows
    flows.ingest_paths("docs", ["handbook/"])
    for hit in flows.query("docs", "How do I reset my password?"):
        print(hit.locator(), hit.text)
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from slmkit.core.options import opt


@dataclass(frozen=True)
class Embedding:
    """Which embedder opens a collection: ``name`` (None: the collection's, else the
    default), pulled when missing unless ``pull`` is false, on ``threads`` CPU threads."""

    name: str | None = None
    pull: bool = True
    threads: int = 0

    def open(self, coll):
        from slmkit.rag.serving import store_embedder

        return store_embedder(self.name or coll.embedder, pull_missing=self.pull,
                              threads=self.threads)


@dataclass(frozen=True)
class Retrieval:
    """How to search: ``k`` chunks, ``mode`` (hybrid, dense, bm25), maximal marginal
    relevance ``mmr``, and which files (a path glob, loader types, a modification window)."""

    k: int = opt(5, "chunks to return", short="-k")
    mode: str = opt("hybrid", choices=("hybrid", "dense", "bm25"))
    mmr: float | None = opt(None, "diversify with maximal marginal relevance (e.g. 0.7)",
                            metavar="LAMBDA", type=float)
    path: str | None = opt(None, "only files matching GLOB", metavar="GLOB")
    types: Sequence[str] | None = opt(None, "only these types (pdf, markdown, html, code, …; "
                                            "repeatable)", metavar="TYPE", action="append",
                                      flag="type", dest="types")
    since: str | None = opt(None, "only files modified since", metavar="DATE")
    until: str | None = opt(None, "only files modified until", metavar="DATE")

    def options(self) -> dict[str, Any]:
        """``mode``, ``mmr`` and ``filters`` as the retrieval functions take them."""
        from slmkit.rag.retrieve import Filters

        return {"mode": self.mode, "mmr": self.mmr,
                "filters": Filters.parse(self.path, self.types or (), self.since, self.until)}


def ingest_paths(name: str, paths: Sequence[str], embedding: Embedding = Embedding(), *,
                 fan_out=None, **options: Any):
    """Add or refresh ``paths`` in collection ``name`` (made when missing); ``options`` go to
    :func:`slmkit.rag.ingest.ingest` (size, overlap, batch_size, prune, progress). With
    ``fan_out`` (e.g. ``slmkit.scale.ray_batch.RayFanOut``) files are read, chunked and
    embedded in parallel tasks, each opening the embedder itself (never pulled there)."""
    from slmkit.rag.ingest import ingest
    from slmkit.rag.serving import store_embedder
    from slmkit.rag.store import Collection

    with Collection(name, create=True) as coll:
        if fan_out is not None:
            options.update(fan_out=fan_out, make_embedder=functools.partial(
                store_embedder, embedding.name or coll.embedder, pull_missing=False,
                threads=embedding.threads))
        return ingest(coll, paths, embedding.open(coll), **options)


def query(name: str, question: str, retrieval: Retrieval = Retrieval(),
          embedding: Embedding = Embedding()) -> list:
    """The top ``retrieval.k`` chunks of collection ``name`` for ``question`` (the
    embedder is not opened for plain BM25)."""
    from slmkit.rag.retrieve import search
    from slmkit.rag.store import Collection

    with Collection(name) as coll:
        embedder = embedding.open(coll) if retrieval.mode != "bm25" or retrieval.mmr else None
        return search(coll, embedder, question, k=retrieval.k, **retrieval.options())


def ask(name: str, question: str, engine, retrieval: Retrieval = Retrieval(),
        embedding: Embedding = Embedding(), *, max_tokens: int = 256,
        threshold: float | None = None):
    """``engine``'s answer to ``question`` from collection ``name``, with citations
    (``threshold``: the cosine under which it says "I don't know"; None: the measured one)."""
    from slmkit.rag.answer import DEFAULT_THRESHOLD, answer
    from slmkit.rag.retrieve import Retriever
    from slmkit.rag.store import Collection

    with Collection(name) as coll:
        retriever = Retriever(coll, embedding.open(coll), **retrieval.options())
        return answer(engine, retriever, question, k=retrieval.k, max_tokens=max_tokens,
                      threshold=DEFAULT_THRESHOLD if threshold is None else threshold)


def evaluate(name: str, qa_path: str, retrieval: Retrieval = Retrieval(),
             embedding: Embedding = Embedding(), *, engine=None, model: str | None = None,
             judge=None, answers: int = 0) -> dict:
    """hit@k and MRR@10 of collection ``name`` on the QA file and, with ``engine`` (named
    ``model`` in the report) and ``answers`` > 0, the faithfulness of its first ``answers``
    answers (scored by the ``judge`` engine when given, else by word overlap)."""
    from slmkit.rag.evaluate import evaluate_collection, load_qa
    from slmkit.rag.store import Collection

    qa = load_qa(qa_path)
    with Collection(name) as coll:
        report = {"collection": name, "qa": qa_path, "mode": retrieval.mode,
                  **evaluate_collection(coll, embedding.open(coll), qa, k=retrieval.k,
                                        **retrieval.options(), engine=engine, judge=judge,
                                        answers=answers)}
    if "answers" in report:
        report["answers"]["model"] = model
    return report


def require(name: str) -> None:
    """``CollectionNotFoundError`` (naming the others) unless collection ``name`` exists:
    check before loading a model for it."""
    from slmkit.rag.store import Collection

    Collection(name).close()


def drop(name: str) -> None:
    """Delete collection ``name``; ``CollectionNotFoundError`` (naming the others) if absent."""
    from slmkit.rag.store import CollectionNotFoundError, drop_collection, list_collections

    if not drop_collection(name):
        raise CollectionNotFoundError(name, list_collections())


def synth(folder: str, *, prose: bool = True, seed: int = 0):
    """Write the offline test corpus and its QA set to ``folder`` (with ``prose``: also
    documents cut from the packaged Wikipedia text)."""
    from slmkit.rag.synthetic import build_corpus

    passages = None
    if prose:
        from slmkit.evaluate import datasets

        passages = datasets.load_texts(datasets.resolve("wikipedia", kind="text"))
    return build_corpus(folder, passages, seed=seed)
