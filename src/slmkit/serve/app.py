"""The FastAPI app: middleware, error handlers, health/metrics, and the two route sets.

``create_app`` wires a :class:`~slmkit.serve.service.Service` into OpenAI routes
(``routes_openai``) and Ollama routes (``routes_ollama``). Middleware, outermost first:
access log + request metrics → CORS (only when origins are configured) → Host, Origin
and Content-Type checks (``browser``) → API keys → body size limit → catch-all (JSON 500,
no trace) → JSON bodies → routes.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

import anyio
from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from slmkit.core.errors import SlmError
from slmkit.serve import errors
from slmkit.serve.auth import ApiKeys, AuthMiddleware, BodyLimitMiddleware, presented_key
from slmkit.serve.browser import BrowserGuardMiddleware, HostPolicy
from slmkit.serve.metrics import CONTENT_TYPE, AccessLogMiddleware
from slmkit.serve.service import Service
from slmkit.serve.state import lend
from slmkit.serve.stream import Generation

log = logging.getLogger("slmkit.serve")


class Readiness:
    """Whether the models named at start-up are loaded (``/ready``)."""

    def __init__(self) -> None:
        self.ready, self.error = False, None

    def run(self, preload: Callable[[], None] | None,
            on_fatal: Callable[[BaseException], None] | None) -> None:
        try:
            if preload is not None:
                preload()
            self.ready = True
        except BaseException as err:  # noqa: BLE001 - reported on /ready and to the CLI
            self.error = err
            log.error("loading models failed: %s", err)
            if on_fatal is not None:
                on_fatal(err)


def create_app(service: Service, *, api_keys: ApiKeys | None = None,
               cors_origins: list[str] | None = None, max_body_bytes: int = 1 << 20,
               preload: Callable[[], None] | None = None,
               on_fatal: Callable[[BaseException], None] | None = None,
               reap_interval: float = 5.0, routers: Sequence[APIRouter] = (),
               state: Mapping[str, Any] | None = None, bind_host: str = "127.0.0.1",
               allowed_hosts: Sequence[str] = ()) -> FastAPI:
    """The app. ``routers`` are extra route sets (guard, RAG, …) the CLI wires in, and
    ``state`` the objects they find on ``request.app.state`` (serve imports neither).
    ``bind_host`` and ``allowed_hosts`` decide which ``Host`` headers are answered
    (see :mod:`slmkit.serve.browser`)."""
    from slmkit.serve import (routes_ollama, routes_openai, routes_responses, routes_ui,
                              routes_ui_jobs)

    readiness = Readiness()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        threading.Thread(target=readiness.run, args=(preload, on_fatal), daemon=True,
                         name="slm-preload").start()
        reaper = asyncio.ensure_future(_reap_forever(service, reap_interval))
        try:
            yield
        finally:
            reaper.cancel()
            await anyio.to_thread.run_sync(service.registry.close)

    app = FastAPI(title="slmkit", lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url=None)
    app.state.service, app.state.readiness = service, readiness
    app.state.api_keys = api_keys or ApiKeys([])
    app.include_router(routes_openai.router)
    app.include_router(routes_responses.router)
    app.include_router(routes_ollama.router)
    app.include_router(routes_ui.router)
    app.include_router(routes_ui_jobs.router)
    lend(app.state, state)  # every serve.state.Lent field, None/empty when not given
    for extra in routers:
        app.include_router(extra)
    _add_basic_routes(app)
    _add_error_handlers(app)
    app.add_middleware(JsonBodyMiddleware)
    app.add_middleware(CatchAllMiddleware)
    app.add_middleware(BodyLimitMiddleware, max_bytes=max_body_bytes)
    app.add_middleware(AuthMiddleware, keys=api_keys or ApiKeys([]))
    app.add_middleware(BrowserGuardMiddleware, hosts=HostPolicy(bind_host, allowed_hosts),
                       cors_origins=cors_origins or ())
    if cors_origins:
        from starlette.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=cors_origins, allow_methods=["*"],
                           allow_headers=["*"], allow_credentials=False)
    route_of = _route_namer(app, [routes_openai.router, routes_responses.router,
                                  routes_ollama.router, routes_ui.router,
                                  routes_ui_jobs.router, *routers])
    app.add_middleware(AccessLogMiddleware, metrics=service.metrics, route_of=route_of)
    return app


async def _reap_forever(service: Service, interval: float) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            names = await anyio.to_thread.run_sync(service.registry.reap)
            for name in names:
                log.info("unloaded %s (keep-alive expired)", name)
        except Exception:
            log.exception("model reaper failed")


def _route_namer(app: FastAPI, routers) -> Callable[[str], str]:
    """Metric label for a path: the route's own path, or "other" (bounded cardinality)."""
    known: set[str] = set()

    def route_of(path: str) -> str:
        if not known:
            for routes in [app.routes, *(r.routes for r in routers)]:
                known.update(getattr(r, "path", "") for r in routes)
        if path in known:
            return path
        if path.startswith("/ui/"):
            return "/ui/{path}"
        return "/v1/models/{model}" if path.startswith("/v1/models/") else "other"

    return route_of


def _add_basic_routes(app: FastAPI) -> None:
    @app.get("/health")
    async def health():
        return {"status": "ok"}

    @app.get("/ready")
    async def ready(request: Request):
        """Open to probes; model names and load errors only for a caller with a key
        (when keys are configured)."""
        r: Readiness = request.app.state.readiness
        keys: ApiKeys = request.app.state.api_keys
        detailed = not keys or keys.check(presented_key(request.scope["headers"]))
        if r.ready:
            models = [m.name for m in request.app.state.service.registry.loaded()]
            return {"status": "ready", "models": models} if detailed else {"status": "ready"}
        status = "failed" if r.error else "loading"
        error = str(r.error) if r.error and detailed else None
        return JSONResponse({"status": status, "error": error}, status_code=503)

    @app.get("/metrics")
    async def metrics(request: Request):
        apps = request.app.state.apps
        return Response(request.app.state.service.metrics.render(apps), media_type=CONTENT_TYPE)


def error_response(request: Request, err: errors.HttpError) -> JSONResponse:
    return JSONResponse(errors.body(request.url.path, err), status_code=err.status,
                        headers=err.headers)


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        return error_response(request, errors.HttpError(400, "invalid_request",
                                                        validation_message(exc)))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return error_response(request, errors.HttpError(exc.status_code, code, str(exc.detail)))

    @app.exception_handler(SlmError)
    @app.exception_handler(ValueError)
    @app.exception_handler(NotImplementedError)
    async def known_error(request: Request, exc: Exception):
        return error_response(request, errors.from_exception(exc))


class JsonBodyMiddleware:
    """Every request body here is JSON: a POST without a Content-Type (some Ollama clients
    send none) is read as JSON. Other types never get here (``browser`` answers 415)."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if (scope["type"] == "http" and scope["method"] == "POST"
                and not any(k == b"content-type" for k, _ in scope["headers"])):
            headers = [*scope["headers"], (b"content-type", b"application/json")]
            scope = dict(scope, headers=headers)
        await self.app(scope, receive, send)


class CatchAllMiddleware:
    """Any other exception: a JSON 500 without a stack trace (the log has it)."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_wrapper(message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except Exception as err:  # noqa: BLE001 - the last line of defence
            reply = errors.from_exception(err)
            if not started:
                await errors.send_error(send, scope["path"], reply)


def validation_message(exc: RequestValidationError) -> str:
    """Pydantic's errors as one readable line: ``field.path: what is wrong``."""
    parts = []
    for e in exc.errors()[:5]:
        if e.get("type") == "json_invalid":
            ctx = e.get("ctx") or {}
            return f"request body is not valid JSON: {ctx.get('error', e.get('msg'))}"
        loc = ".".join(str(x) for x in e.get("loc", ()) if x != "body")
        parts.append(f"{loc or 'body'}: {e.get('msg')}")
    return "invalid request: " + "; ".join(parts)


class GenerationResponse(Response):
    """Streams what ``body`` yields for a running generation. The client disconnecting (or
    any end of the response) cancels the generation, freeing its slot."""

    def __init__(self, gen: Generation, body: AsyncIterator[bytes], media_type: str) -> None:
        super().__init__(media_type=media_type)
        self.gen, self.body_iter = gen, body
        self.headers["cache-control"] = "no-cache"
        self.headers["x-accel-buffering"] = "no"
        del self.headers["content-length"]

    async def __call__(self, scope, receive, send) -> None:
        watcher = asyncio.ensure_future(_cancel_on_disconnect(receive, self.gen))
        try:
            await send({"type": "http.response.start", "status": self.status_code,
                        "headers": self.raw_headers})
            async for data in self.body_iter:
                if data:
                    await send({"type": "http.response.body", "body": data, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except OSError:
            pass  # the client went away
        finally:
            watcher.cancel()
            self.gen.cancel()
            await self.body_iter.aclose()


async def _cancel_on_disconnect(receive, gen: Generation) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            gen.cancel()
            return


def disconnect_waiter(request: Request) -> Callable[[], object]:
    """An awaitable factory that returns when the client of ``request`` disconnects."""
    async def wait() -> None:
        while True:
            message = await request.receive()
            if message["type"] == "http.disconnect":
                return

    return wait
