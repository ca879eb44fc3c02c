"""The web UI's background jobs, model store and document uploads.

- ``GET  /v1/ui/jobs`` / ``GET /v1/ui/jobs/{id}``: jobs with their progress (a reload finds
  them again: they run on the server, see :mod:`slmkit.serve.jobs`).
- ``GET  /v1/ui/models``: the store (size, quant, lineage) with what is loaded, and the
  catalog with what fits this machine; ``POST /v1/ui/jobs/pull`` ``{"model"}`` pulls as a
  job; ``DELETE /v1/ui/models/{name}`` removes a stored model; ``POST
  /v1/ui/models/load`` / ``unload`` ``{"model"}`` load or unload one now; ``POST
  /v1/ui/models/measure`` ``{"model"}`` times a short fixed generation (decode tokens/s).
  Each stored row has ``speed`` (the last measurement, from ``slm bench`` or Measure) and
  ``recent`` (the median speed of this server's last generations of it).
- ``POST /v1/ui/jobs/ingest`` ``{"collection", "documents": [{"name", "text"}]}``: ingests
  file by file as a job, with a result (chunks or an error) per file.

The store is reached only through the object the CLI puts on ``app.state.models_admin``
(:class:`ModelAdmin`); collections through ``app.state.rag`` (``core.retrieval``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import anyio
from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from slmkit.core.errors import SlmError
from slmkit.serve.jobs import Job, JobBoard

router = APIRouter()


class ModelAdmin(Protocol):
    """What the UI may do with the model store (implemented in ``slmkit.models.admin``)."""

    def stored(self) -> list[dict[str, Any]]:
        """One row per stored model: name, size_bytes, quantization, parameters, parent…"""

    def catalog(self) -> list[dict[str, Any]]:
        """One row per catalog entry: name, params, memory estimate, ``fits``, ``stored``."""

    def pull(self, name: str, progress: Callable[[int, int | None], None]) -> dict[str, Any]:
        """Pull ``name`` into the store, calling ``progress(done_bytes, total_or_None)``."""

    def remove(self, name: str) -> int:
        """Delete a stored model; returns the bytes freed."""

    # optional: ``record_speed(name, record) -> record`` keeps a measured decode speed,
    # shown afterwards as the row's ``speed``.


def jobs(request: Request) -> JobBoard:
    state = request.app.state
    if state.jobs is None:
        state.jobs = JobBoard()
    return state.jobs


def _need(value, what: str):
    """``value`` (something ``app.state`` lends), or the 404 saying the feature is off."""
    if value is None:
        raise _Disabled(f"this server has no {what}",
                        hint="start it with `slm serve`, which enables the web UI's pages")
    return value


class _Disabled(SlmError):
    code = "feature_disabled"


@router.get("/v1/ui/jobs")
async def list_jobs(request: Request):
    return {"object": "list", "data": jobs(request).list()}


@router.get("/v1/ui/jobs/{job_id}")
async def get_job(job_id: str, request: Request):
    return jobs(request).get(job_id).to_dict()


# --- models -------------------------------------------------------------------------------------

class PullRequest(BaseModel):
    model: str = Field(min_length=1, max_length=300)


@router.get("/v1/ui/models")
async def models(request: Request):
    admin = _need(request.app.state.models_admin, "model store")
    service = request.app.state.service

    def work() -> dict:
        loaded = {m.name for m in service.registry.loaded()}
        recent = service.metrics.speeds.get
        stored = [r | {"loaded": r["name"] in loaded, "recent": recent(r["name"])}
                  for r in admin.stored()]
        return {"stored": stored, "catalog": admin.catalog(), "loaded": sorted(loaded)}

    return await anyio.to_thread.run_sync(work)


@router.post("/v1/ui/jobs/pull")
async def pull(body: PullRequest, request: Request):
    admin = _need(request.app.state.models_admin, "model store")

    def work(job: Job) -> dict:
        def progress(done: int, total: int | None) -> None:
            job.report(done / total if total else None, bytes_done=done, bytes_total=total)

        return admin.pull(body.model, progress)

    return jobs(request).start("pull", body.model, work).to_dict()


@router.post("/v1/ui/models/load")
async def load(body: PullRequest, request: Request):
    """Load a model now (it then stays for the server's keep-alive, as after a request)."""
    svc = request.app.state.service
    model = await svc.acquire(body.model)
    await svc.release(model)
    return {"model": model.name, "loaded": True}


@router.post("/v1/ui/models/unload")
async def unload(body: PullRequest, request: Request):
    """Unload a model now, as Ollama's ``keep_alive: 0`` does (models named at start-up stay:
    the operator pinned them)."""
    svc = request.app.state.service
    model = svc.registry.get_loaded(body.model)
    if model is None:
        return {"model": body.model, "loaded": False}
    model = await svc.acquire(model.name)
    await svc.release(model, 0)
    return {"model": model.name, "loaded": svc.registry.get_loaded(model.name) is model}


@router.post("/v1/ui/models/measure")
async def measure(body: PullRequest, request: Request):
    """Time one short fixed generation of a model (loading it if needed) and keep the decode
    speed with the model admin (beside what ``slm bench`` recorded)."""
    from slmkit.serve.speeds import measure as run_measure

    svc = request.app.state.service
    model = await svc.acquire(body.model)
    try:
        record = await anyio.to_thread.run_sync(lambda: run_measure(model.engine))
    finally:
        await svc.release(model)
    admin = request.app.state.models_admin
    if admin is not None and hasattr(admin, "record_speed"):
        record = await anyio.to_thread.run_sync(lambda: admin.record_speed(model.name, record))
    return {"model": model.name, "speed": record}


@router.delete("/v1/ui/models/{name:path}")
async def remove(name: str, request: Request):
    admin = _need(request.app.state.models_admin, "model store")
    if request.app.state.service.registry.get_loaded(name) is not None:
        raise ValueError(f"model {name!r} is loaded; stop the server or wait for it to unload "
                         "before deleting it")
    freed = await anyio.to_thread.run_sync(lambda: admin.remove(name))
    return {"deleted": True, "model": name, "bytes_freed": freed}


# --- documents ----------------------------------------------------------------------------------

class UploadedFile(BaseModel):
    name: str = Field(min_length=1, max_length=512)
    text: str


class IngestJob(BaseModel):
    collection: str = Field(min_length=1, max_length=128)
    documents: list[UploadedFile] = Field(min_length=1, max_length=2000)


@router.post("/v1/ui/jobs/ingest")
async def ingest(body: IngestJob, request: Request):
    rag = _need(request.app.state.rag, "document collections")
    docs = [d.model_dump() for d in body.documents]

    def work(job: Job) -> dict:
        files = [{"name": d["name"], "state": "waiting"} for d in docs]
        job.report(0.0, files=files)
        for i, doc in enumerate(docs):
            files[i] = {"name": doc["name"], "state": "running"}
            job.report(i / len(docs), files=list(files))
            files[i] = _ingest_one(rag, body.collection, doc)
            job.report((i + 1) / len(docs), files=list(files))
        failed = sum(f["state"] == "failed" for f in files)
        if failed == len(files):
            raise ValueError(f"no file could be ingested ({failed} failed)")
        return {"files": files, "failed": failed}

    return jobs(request).start("ingest", body.collection, work).to_dict()


def _ingest_one(rag, collection: str, doc: dict) -> dict:
    try:
        report = rag.ingest_texts(collection, [doc])
    except Exception as err:  # noqa: BLE001 - one bad file does not stop the others
        message = err.message if isinstance(err, SlmError) else str(err) or type(err).__name__
        return {"name": doc["name"], "state": "failed", "error": message}
    chunks = report.get("chunks") if isinstance(report, dict) else None
    return {"name": doc["name"], "state": "done", "chunks": chunks}
