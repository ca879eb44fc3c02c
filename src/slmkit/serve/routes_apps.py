"""Apps over HTTP (``/v1/apps/...``): one mount for every app (summarize, review, logs, …).

The handlers are found on ``request.app.state.apps``, a ``{name: core.apps.AppHandler}``
mapping the CLI builds (serve never imports ``slmkit.apps``). A name may hold ``/``
(``logs/detect``): the whole path after ``/v1/apps/`` is the key.

- ``GET  /v1/apps``          → ``{"object": "list", "data": [{"name": ..., "form": ...}]}``
  (``form``: the handler's ``core.apps.AppForm`` as JSON, drawn by the web UI, or null)
- ``GET  /v1/apps/openapi.json`` → the OpenAPI 3.1 document of these apps (their request
  bodies drawn from their forms)
- ``POST /v1/apps/{name}``   a JSON object → the handler's JSON object. With
  ``"stream": true`` in the body the answer is ``text/event-stream``: one
  ``data: {"type": "progress", ...}`` line per progress event, then exactly one
  ``data: {"type": "result", "result": {...}}`` or ``data: {"type": "error", "error": {...}}``.
  A client that disconnects stops the run at its next progress event.

Unknown app: 404 ``app_not_found``; a body that is not a JSON object, or a payload the
handler refuses (``ValueError``): 400 with the handler's message. Auth, Host/Origin checks
and the body size limit are the server's middleware, as for every other route.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Mapping
from typing import Any

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse

from slmkit.core.apps import AppCancelled, AppForm, AppHandler
from slmkit.serve import errors

router = APIRouter()


class AppRouteError(Exception):
    """An HTTP error decided before the handler runs."""

    def __init__(self, err: errors.HttpError) -> None:
        super().__init__(err.message)
        self.http = err


def _apps(request: Request) -> Mapping[str, AppHandler]:
    return request.app.state.apps or {}


def _handler(request: Request, name: str) -> AppHandler:
    apps = _apps(request)
    if name not in apps:
        known = ", ".join(sorted(apps)) or "none"
        raise AppRouteError(errors.HttpError(
            404, "app_not_found", f"no app {name!r} on this server",
            f"GET /v1/apps lists the apps this server has (now: {known})"))
    return apps[name]


async def _payload(request: Request) -> tuple[dict[str, Any], bool]:
    """The body as a dict and whether the caller asked for a progress stream."""
    raw = await request.body()
    try:
        payload = json.loads(raw or b"{}")
    except ValueError as err:
        raise AppRouteError(errors.HttpError(
            400, "invalid_request", f"request body is not valid JSON: {err}")) from None
    if not isinstance(payload, dict):
        raise AppRouteError(errors.HttpError(
            400, "invalid_request",
            f"request body must be a JSON object, got {type(payload).__name__}"))
    stream = payload.pop("stream", False)
    if not isinstance(stream, bool):
        raise AppRouteError(errors.HttpError(400, "invalid_request",
                                             "stream: must be true or false"))
    return payload, stream


@router.get("/v1/apps")
async def list_apps(request: Request):
    return {"object": "list", "data": [{"name": n, "form": _form(h)}
                                       for n, h in sorted(_apps(request).items())]}


@router.get("/v1/apps/openapi.json")
async def apps_openapi(request: Request):
    """The OpenAPI document of the apps this server mounts (``serve/apps_openapi.py``)."""
    from slmkit import __version__
    from slmkit.serve.apps_openapi import openapi

    return openapi(_apps(request), __version__)


def _form(handler: AppHandler) -> dict[str, Any] | None:
    """The handler's ``core.apps.AppForm`` as JSON (None: the UI shows a JSON box)."""
    form = getattr(handler, "form", None)
    return form.to_dict() if isinstance(form, AppForm) else None


@router.post("/v1/apps/{name:path}")
async def run_app(name: str, request: Request):
    from slmkit.serve.app import error_response

    try:
        handler = _handler(request, name)
        payload, stream = await _payload(request)
    except AppRouteError as err:
        return error_response(request, err.http)
    if stream:
        return StreamingResponse(_events(handler, payload, request.url.path),
                                 media_type="text/event-stream",
                                 headers={"cache-control": "no-cache",
                                          "x-accel-buffering": "no"})
    result = await anyio.to_thread.run_sync(lambda: handler.run(payload, None))
    return JSONResponse(result)


def _sse(event: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(event, ensure_ascii=False).encode() + b"\n\n"


async def _events(handler: AppHandler, payload: dict[str, Any],
                  path: str) -> AsyncIterator[bytes]:
    """Runs the handler on a worker thread and yields its progress, then its outcome."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
    gone = threading.Event()

    def put(kind: str, value: Any) -> None:
        loop.call_soon_threadsafe(queue.put_nowait, (kind, value))

    def progress(event: dict[str, Any]) -> None:
        if gone.is_set():
            raise AppCancelled("the client disconnected")
        put("progress", event)

    def work() -> None:
        try:
            put("result", handler.run(payload, progress))
        except BaseException as err:  # noqa: BLE001 - reported to the client as an event
            put("error", err)

    loop.run_in_executor(None, work)
    try:
        while True:
            kind, value = await queue.get()
            if kind == "progress":
                yield _sse({**value, "type": "progress"})
            elif kind == "result":
                yield _sse({"type": "result", "result": value})
                return
            else:
                body = errors.body(path, errors.from_exception(value))
                yield _sse({"type": "error", "error": body.get("error", body)})
                return
    finally:
        gone.set()
