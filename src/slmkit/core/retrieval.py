"""Retrieval types shared by rag/, serve/ and the CLI. Standard library only.

A :class:`Retriever` turns a question into ranked :class:`Passage`\\ s; a
:class:`CollectionService` is what the HTTP routes see of the document collections.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True)
class Passage:
    """One retrieved chunk. ``score`` is the ranking score of the mode used (the fused
    score for hybrid, BM25 for bm25, cosine for dense); ``similarity`` is the cosine
    similarity between the question and the chunk (the measure the "I don't know"
    threshold uses)."""

    chunk_id: int
    text: str
    source: str
    score: float
    similarity: float = 0.0
    page: int | None = None
    line_start: int | None = None
    line_end: int | None = None
    doc_type: str = ""
    ranks: dict[str, int] = field(default_factory=dict)

    def locator(self) -> str:
        """``file.pdf p.3`` or ``notes.md:10-24``."""
        name = self.source.rsplit("/", 1)[-1]
        if self.page:
            return f"{name} p.{self.page}"
        if self.line_start:
            return f"{name}:{self.line_start}-{self.line_end or self.line_start}"
        return name

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["locator"] = self.locator()
        return d


@runtime_checkable
class Retriever(Protocol):
    """``retrieve(query, k)`` → at most ``k`` passages, best first."""

    def retrieve(self, query: str, k: int = 5) -> list[Passage]: ...


@runtime_checkable
class CollectionService(Protocol):
    """The collections as the server sees them. Names are validated (``ValueError``);
    an unknown collection raises ``SlmError`` with code ``collection_not_found``."""

    def list(self) -> list[dict[str, Any]]: ...

    def query(self, name: str, query: str, *, k: int = 5, mode: str = "hybrid",
              filters: dict[str, Any] | None = None) -> list[Passage]: ...

    def ingest_texts(self, name: str, documents: Sequence[dict[str, str]]) -> dict[str, Any]: ...

    def drop(self, name: str) -> bool: ...

    def retriever(self, name: str, *, k: int = 5) -> Retriever: ...
