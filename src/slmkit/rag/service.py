"""The collections as a long-running process (the server) uses them: a
``core.retrieval.CollectionService``.

Each call opens its own connection to the collection's file (SQLite connections are cheap,
and this way threads and other processes never share one), and embedders are loaded once
per name through ``embedder_for(name)``, which the CLI wires to the model store.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from slmkit.core.retrieval import Passage
from slmkit.rag import store
from slmkit.rag.retrieve import MODES, Filters, VectorCache, search

DEFAULT_EMBEDDER = "all-minilm-l6-v2-int8"  # rag.embedders.DEFAULT (no import: light)


class _LockedEmbedder:
    """One embedder shared by threads: calls are serialised."""

    def __init__(self, inner) -> None:
        self.inner, self._lock = inner, threading.Lock()
        self.name = inner.name or DEFAULT_EMBEDDER
        self.dimension, self.max_tokens = inner.dimension, inner.max_tokens
        self.n_special = inner.n_special

    def embed(self, texts):
        with self._lock:
            return self.inner.embed(texts)

    def embed_array(self, texts, *, check: bool = True):
        with self._lock:
            return self.inner.embed_array(texts, check=check)

    def count_tokens(self, text):
        return self.inner.count_tokens(text)

    def token_spans(self, text):
        return self.inner.token_spans(text)


class RagService:
    def __init__(self, embedder_for: Callable[[str], Any], *, home=None,
                 default_embedder: str = DEFAULT_EMBEDDER) -> None:
        self.home, self.default_embedder = home, default_embedder
        self._embedder_for = embedder_for
        self._embedders: dict[str, _LockedEmbedder] = {}
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self.cache = VectorCache()

    def embedder(self, name: str | None = None) -> _LockedEmbedder:
        name = name or self.default_embedder
        with self._lock:
            if name not in self._embedders:
                self._embedders[name] = _LockedEmbedder(self._embedder_for(name))
            return self._embedders[name]

    def open(self, name: str, *, create: bool = False) -> store.Collection:
        return store.Collection(name, self.home, create=create)

    def list(self) -> list[dict[str, Any]]:
        out = []
        for name in store.list_collections(self.home):
            try:
                with self.open(name) as c:
                    out.append(c.stats())
            except Exception as err:  # noqa: BLE001 - one damaged file is reported, not fatal
                out.append({"name": name, "error": str(err)})
        return out

    def query(self, name: str, query: str, *, k: int = 5, mode: str = "hybrid",
              filters: dict[str, Any] | None = None, mmr: float | None = None) -> list[Passage]:
        if not isinstance(query, str) or not query.strip():
            raise ValueError("query must be a non-empty string")
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}")
        with self.open(name) as c:
            emb = self.embedder(c.embedder)
            return search(c, emb, query, k=k, mode=mode, mmr=mmr, cache=self.cache,
                          filters=Filters(**filters) if filters else None)

    def ingest_texts(self, name: str, documents: Sequence[dict[str, str]]) -> dict[str, Any]:
        from slmkit.rag.ingest import ingest_texts

        if not documents:
            raise ValueError("documents must be a non-empty list of {name, text}")
        with self._write_lock, self.open(name, create=True) as c:
            return ingest_texts(c, documents, self.embedder(c.embedder)).to_dict()

    def drop(self, name: str) -> bool:
        store.check_name(name)
        with self._write_lock:
            return store.drop_collection(name, self.home)

    def retriever(self, name: str, *, k: int = 5) -> CollectionRetriever:
        with self.open(name):
            pass  # raises CollectionNotFoundError now rather than at the first question
        return CollectionRetriever(self, name)


class CollectionRetriever:
    """A thread-safe ``core.retrieval.Retriever`` over one collection of a service."""

    def __init__(self, service: RagService, name: str, *, mode: str = "hybrid") -> None:
        self.service, self.name, self.mode = service, name, mode

    def retrieve(self, query: str, k: int = 5) -> list[Passage]:
        return self.service.query(self.name, query, k=k, mode=self.mode)
