"""The web UI: its static page at ``/`` and ``/ui/…``, and its JSON routes.

- ``GET /`` and ``GET /ui/{file}``: the committed HTML/CSS/JS (package data in
  ``serve/ui``), open without a key (they hold no data; the page asks for the key and
  sends it as ``Authorization: Bearer`` on every API call), with a strict
  Content-Security-Policy: scripts, styles and connections to this origin only.
- ``/v1/ui/conversations…``: server-side chat history (list, create, get, update, delete,
  export as Markdown or JSON), on the ``ConversationStore`` the CLI puts on
  ``app.state.conversations``.
- ``GET /v1/ui/metrics``: a JSON twin of ``/metrics`` (:mod:`slmkit.serve.metrics_json`).
- ``GET /v1/ui/operations``: routing decisions, costs and guard counts (never values).
- ``GET /v1/ui/features``: which optional parts this server has (RAG, model admin, apps).

Jobs, models and documents are in :mod:`slmkit.serve.routes_ui_jobs`.
"""

from __future__ import annotations

from importlib import resources
from typing import Any, Literal

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from slmkit.serve import errors
from slmkit.serve.metrics_json import snapshot

router = APIRouter()

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; "
       "form-action 'none'; frame-ancestors 'none'; object-src 'none'")
SECURITY_HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
                    "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY",
                    "Cache-Control": "no-cache"}
MEDIA_TYPES = {".html": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8",
               ".js": "text/javascript; charset=utf-8", ".svg": "image/svg+xml",
               ".png": "image/png", ".ico": "image/x-icon"}


def _assets() -> dict[str, bytes]:
    """Every file under ``serve/ui`` by its path there (read once, then served from memory:
    nothing outside this table can be asked for)."""
    found: dict[str, bytes] = {}

    def walk(node, prefix: str) -> None:
        for child in node.iterdir():
            path = f"{prefix}{child.name}"
            if child.is_dir():
                walk(child, path + "/")
            elif any(path.endswith(ext) for ext in MEDIA_TYPES):
                found[path] = child.read_bytes()

    walk(resources.files("slmkit.serve") / "ui", "")
    return found


_ASSETS: dict[str, bytes] | None = None


def asset(path: str) -> Response | None:
    """The response for one UI file, or None when there is no such file."""
    global _ASSETS
    if _ASSETS is None:
        _ASSETS = _assets()
    data = _ASSETS.get(path)
    if data is None:
        return None
    media = MEDIA_TYPES["." + path.rsplit(".", 1)[-1]]
    return Response(data, media_type=media, headers=SECURITY_HEADERS)


@router.get("/", include_in_schema=False)
async def index():
    return asset("index.html")


@router.get("/ui/{path:path}", include_in_schema=False)
async def static(path: str, request: Request):
    found = asset(path)
    if found is None:
        return _error(request, 404, "not_found", f"no UI file {path!r}")
    return found


def _error(request: Request, status: int, code: str, message: str, hint: str | None = None):
    from slmkit.serve.app import error_response

    return error_response(request, errors.HttpError(status, code, message, hint))


# --- conversations ----------------------------------------------------------------------------

class Message(BaseModel):
    role: Literal["system", "user", "assistant"]
    content: str = Field(max_length=1_000_000)
    meta: dict[str, Any] = Field(default_factory=dict)


class NewConversation(BaseModel):
    title: str = Field(default="New chat", min_length=1, max_length=200)
    model: str | None = Field(default=None, max_length=300)
    settings: dict[str, Any] = Field(default_factory=dict)


class ConversationUpdate(BaseModel):
    title: str | None = Field(default=None, min_length=1, max_length=200)
    model: str | None = Field(default=None, max_length=300)
    settings: dict[str, Any] | None = None
    messages: list[Message] | None = Field(default=None, max_length=2000)


async def _conversations(request: Request, work):
    store = request.app.state.conversations
    if store is None:
        return _error(request, 404, "ui_history_disabled",
                      "this server keeps no conversations",
                      "start it with `slm serve`, which keeps them under $SLM_HOME/ui")
    return await anyio.to_thread.run_sync(lambda: work(store))


@router.get("/v1/ui/conversations")
async def list_conversations(request: Request):
    return await _conversations(request, lambda s: {"object": "list", "data": s.list()})


@router.post("/v1/ui/conversations")
async def create_conversation(body: NewConversation, request: Request):
    return await _conversations(request, lambda s: s.create(body.title, body.model,
                                                            body.settings))


@router.get("/v1/ui/conversations/{cid}")
async def get_conversation(cid: str, request: Request):
    return await _conversations(request, lambda s: s.get(cid))


@router.put("/v1/ui/conversations/{cid}")
async def update_conversation(cid: str, body: ConversationUpdate, request: Request):
    messages = None if body.messages is None else [m.model_dump() for m in body.messages]
    return await _conversations(request, lambda s: s.update(
        cid, title=body.title, model=body.model, settings=body.settings, messages=messages))


@router.delete("/v1/ui/conversations/{cid}")
async def delete_conversation(cid: str, request: Request):
    def work(store) -> dict:
        store.delete(cid)
        return {"deleted": True, "id": cid}

    return await _conversations(request, work)


@router.get("/v1/ui/conversations/{cid}/export")
async def export_conversation(cid: str, request: Request,
                              format: Literal["markdown", "json"] = "markdown"):  # noqa: A002
    result = await _conversations(request, lambda s: s.export(cid, format))
    if isinstance(result, Response):
        return result
    text, media = result
    ext = "md" if format == "markdown" else "json"
    return Response(text, media_type=media, headers={
        "Content-Disposition": f'attachment; filename="conversation-{cid}.{ext}"'})


# --- server facts -----------------------------------------------------------------------------

@router.get("/v1/ui/metrics")
async def metrics(request: Request):
    service = request.app.state.service
    return await anyio.to_thread.run_sync(lambda: snapshot(service.metrics.registry))


@router.get("/v1/ui/operations")
async def operations(request: Request):
    """Routing decisions, costs and guard counts of the last day, from the callable the CLI
    puts on ``app.state.operations`` (``{"routing": None, "guard": None}`` without one)."""
    report = request.app.state.operations
    found = await anyio.to_thread.run_sync(report) if report is not None else None
    return found or {"routing": None, "guard": None}


def _paths(routes) -> set[str]:
    """Every route path, looking inside included routers (newer FastAPI keeps them whole)."""
    found: set[str] = set()
    for r in routes:
        if getattr(r, "path", None):
            found.add(r.path)
        inner = getattr(r, "original_router", None)
        found |= _paths(getattr(inner, "routes", ()))
    return found


@router.get("/v1/ui/features")
async def features(request: Request):
    state = request.app.state
    paths = _paths(request.app.routes)
    return {"rag": state.rag is not None,
            "models_admin": state.models_admin is not None,
            "conversations": state.conversations is not None,
            "apps": sorted(state.apps or {})
            if any(p.startswith("/v1/apps") for p in paths) else [],
            "operations": state.operations is not None}
