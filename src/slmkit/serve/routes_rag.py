"""Document collections over HTTP (``/v1/rag/...``).

The routes see the collections only through ``core.retrieval.CollectionService`` (the CLI
puts one on ``app.state.rag``); retrieval and ingestion run on worker threads.

- ``GET    /v1/rag/collections``        → ``{"data": [{name, documents, chunks, ...}]}``
- ``POST   /v1/rag/{name}/query``       ``{"query", "k"?, "mode"?, "filters"?}`` → passages
- ``POST   /v1/rag/{name}/ingest``      ``{"documents": [{"name", "text"}]}`` → report
- ``DELETE /v1/rag/{name}``             → ``{"deleted": true}``

Chat with a collection: the model name ``rag:NAME`` on ``/v1/chat/completions``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, Literal

import anyio
from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from slmkit.core.errors import SlmError
from slmkit.core.retrieval import CollectionService
from slmkit.serve import errors

router = APIRouter()


class _NotFound(SlmError):
    code = "collection_not_found"


class Filters(BaseModel):
    path: str | None = None
    types: list[str] = Field(default_factory=list)
    since: float | None = None
    until: float | None = None


class QueryRequest(BaseModel):
    query: str = Field(min_length=1, max_length=8192)
    k: int = Field(default=5, ge=1, le=100)
    mode: Literal["hybrid", "dense", "bm25"] = "hybrid"
    filters: Filters | None = None


class Document(BaseModel):
    name: str = Field(min_length=1, max_length=512)
    text: str


class IngestRequest(BaseModel):
    documents: list[Document] = Field(min_length=1, max_length=10_000)


async def _run(request: Request, work: Callable[[CollectionService], Any]) -> Any:
    """``work(service)`` on a worker thread; collection errors become 404/409 replies."""
    from slmkit.serve.app import error_response

    svc = request.app.state.rag
    if svc is None:
        return error_response(request, errors.HttpError(
            404, "rag_disabled", "this server has no document collections",
            "start the server with `slm serve`, which enables /v1/rag"))
    try:
        return await anyio.to_thread.run_sync(lambda: work(svc))
    except SlmError as err:
        status = {"collection_not_found": 404, "embedder_mismatch": 409}.get(err.code)
        if status is None:
            raise
        return error_response(request, errors.HttpError(status, err.code, err.message,
                                                        err.hint))


def _public_source(source: str) -> str:
    """A document's name as clients see it: files ingested on the server by path show
    their file name only (absolute paths say where the server keeps its data)."""
    return os.path.basename(source) if os.path.isabs(source) else source


def _public_stats(stats: dict) -> dict:
    return {k: v for k, v in stats.items() if k not in ("path", "error")} | (
        {"error": "the collection could not be opened"} if "error" in stats else {})


def _public_passage(passage) -> dict:
    d = passage.to_dict()
    d["source"] = _public_source(d["source"])
    return d


@router.get("/v1/rag/collections")
async def list_collections(request: Request):
    return await _run(request, lambda svc: {"object": "list",
                                            "data": [_public_stats(s) for s in svc.list()]})


@router.post("/v1/rag/{name}/query")
async def query(name: str, body: QueryRequest, request: Request):
    filters = body.filters.model_dump(exclude_none=True) if body.filters else None

    def work(svc: CollectionService) -> dict:
        hits = svc.query(name, body.query, k=body.k, mode=body.mode, filters=filters or None)
        return {"object": "list", "collection": name, "query": body.query, "mode": body.mode,
                "data": [_public_passage(p) for p in hits]}

    return await _run(request, work)


@router.post("/v1/rag/{name}/ingest")
async def ingest(name: str, body: IngestRequest, request: Request):
    docs = [d.model_dump() for d in body.documents]
    return await _run(request, lambda svc: svc.ingest_texts(name, docs))


@router.delete("/v1/rag/{name}")
async def drop(name: str, request: Request):
    def work(svc: CollectionService) -> dict:
        if not svc.drop(name):
            raise _NotFound(f"collection {name!r} not found",
                            hint="GET /v1/rag/collections lists them")
        return {"deleted": True, "collection": name}

    return await _run(request, work)
