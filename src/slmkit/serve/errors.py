"""Errors → HTTP responses, in the shape each API's clients expect (no stack traces).

OpenAI routes answer ``{"error": {"message", "type", "code", ...}}``; Ollama routes (under
``/api/``) answer ``{"error": "message"}``.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field

from slmkit.core.errors import (
    ContextOverflowError,
    InvalidModelFileError,
    ModelNotFoundError,
    ModelTooLargeError,
    QueueFullError,
    SlmError,
)
from slmkit.serve import protocol_ollama, protocol_openai
from slmkit.serve.registry import MemoryBudgetError

log = logging.getLogger("slmkit.serve")


@dataclass
class HttpError:
    status: int
    code: str
    message: str
    hint: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


# Errors raised by other parts (a routed or remote engine, the guard) known by their code,
# since serve/ does not import those packages.
STATUS_BY_CODE = {"engine_closed": 503, "upstream_error": 502, "guard_blocked": 400,
                  "conversation_not_found": 404, "vault_full": 413,
                  "job_not_found": 404, "feature_disabled": 404, "fim_unsupported": 400,
                  "replica_lost": 503}


def from_exception(err: BaseException) -> HttpError:
    """The HTTP answer for an exception raised while serving a request."""
    if isinstance(err, QueueFullError):
        return HttpError(429, err.code, err.message, err.hint,
                         {"Retry-After": str(max(1, round(err.retry_after)))})
    if isinstance(err, MemoryBudgetError):
        headers = {"Retry-After": str(round(err.retry_after))} if err.retry_after else {}
        return HttpError(503, err.code, err.message, err.hint, headers)
    if isinstance(err, ModelNotFoundError):
        hint = err.hint if err.hint and "in the catalog" in err.hint else (
            "GET /v1/models or /api/tags lists the models this server has; "
            "`slm pull NAME` on the server machine adds one")
        return HttpError(404, err.code, err.message, hint)
    if isinstance(err, ContextOverflowError):
        return HttpError(400, err.code, err.message,
                         "shorten the prompt, or restart the server with a larger --ctx")
    if isinstance(err, ModelTooLargeError):
        return HttpError(503, err.code, err.message, err.hint)
    if isinstance(err, InvalidModelFileError):
        return HttpError(500, err.code, err.message, err.hint)
    if isinstance(err, NotImplementedError):  # incl. core's UnsupportedOperationError
        return HttpError(400, "not_supported", (err.message if isinstance(err, SlmError) else str(err))
                         or "not supported by this model")
    if isinstance(err, SlmError):
        return HttpError(STATUS_BY_CODE.get(err.code, 500), err.code, err.message, err.hint)
    if isinstance(err, ValueError):
        return HttpError(400, "invalid_request", str(err))
    log.error("internal error while serving a request", exc_info=err)
    return HttpError(500, "internal_error", "internal server error",
                     "the server log has the details")


def is_ollama(path: str) -> bool:
    return path.startswith("/api/")


def body(path: str, err: HttpError) -> dict:
    if is_ollama(path):
        return protocol_ollama.error_body(err.message, err.hint)
    return protocol_openai.error_body(err.status, err.code, err.message, err.hint)


def json_bytes(path: str, err: HttpError) -> bytes:
    return json.dumps(body(path, err), ensure_ascii=False).encode()


async def send_error(send, path: str, err: HttpError) -> None:
    """Answer with ``err`` from pure ASGI middleware."""
    payload = json_bytes(path, err)
    headers = [(b"content-type", b"application/json"),
               (b"content-length", str(len(payload)).encode())]
    headers += [(k.lower().encode(), v.encode()) for k, v in err.headers.items()]
    await send({"type": "http.response.start", "status": err.status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
