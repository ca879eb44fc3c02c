"""``POST /infill``: llama.cpp server's fill-in-the-middle shape, so editor plugins such as
llama.vscode and llama.vim work unchanged.

Request (llama.cpp's fields; others are ignored): ``input_prefix``, ``input_suffix``,
``input_extra`` (``[{"filename", "text"}]`` chunks from other files), ``prompt`` (text
already typed after the prefix), ``n_predict``, ``stream``, ``temperature``, ``top_k``,
``top_p``, ``min_p``, ``seed``, ``stop``, ``n_indent``, ``model``.
Response: ``{"content", "stop": true, "stop_type", "model", "tokens_predicted",
"tokens_evaluated", "tokens_cached", "truncated", "timings": {...}}``; streamed as
``data: {"content": ..., "stop": false}`` events and a last ``"stop": true`` event.
``n_predict: 0`` only processes the prompt (editors warm the cache this way).

The prompt is built by ``app.state.infill`` (``core.apps.Infiller``): the model's own FIM
tokens, stop rules, and, for a whole (non-streamed) answer, truncation to a complete
statement. The prompt's prefix stays in the engine's KV cache, so the next keystroke only
processes what changed.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from slmkit.serve import errors, service
from slmkit.serve.app import GenerationResponse, disconnect_waiter, error_response

router = APIRouter()
MAX_PREDICT = 4096


class ExtraChunk(BaseModel):
    model_config = ConfigDict(extra="ignore")
    filename: str = ""
    text: str = ""


class InfillRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")
    model: str | None = None
    input_prefix: str = ""
    input_suffix: str = ""
    input_extra: list[ExtraChunk] = Field(default_factory=list, max_length=256)
    prompt: str = ""
    n_predict: int = Field(default=-1, ge=-1, le=MAX_PREDICT)
    stream: bool = False
    temperature: float | None = Field(default=None, ge=0.0, le=5.0)
    top_k: int | None = Field(default=None, ge=0)
    top_p: float | None = Field(default=None, ge=0.0, le=1.0)
    min_p: float | None = Field(default=None, ge=0.0, le=1.0)
    seed: int | None = None
    stop: list[str] = Field(default_factory=list, max_length=16)
    n_indent: int = Field(default=0, ge=0, le=200)
    filename: str = ""


def fields(body: InfillRequest, model) -> dict[str, Any]:
    """What the infiller takes, from a llama.cpp-shaped request (greedy unless asked)."""
    temperature = 0.0 if body.temperature is None else body.temperature
    return {"prefix": body.input_prefix, "suffix": body.input_suffix,
            "extra": [c.model_dump() for c in body.input_extra],
            "middle_start": body.prompt, "filename": body.filename,
            "max_tokens": 128 if body.n_predict < 0 else body.n_predict,
            "stop": [s for s in body.stop if s],
            "sampling": service.sampling(model.defaults, body.seed, temperature=temperature,
                                         top_k=body.top_k, top_p=body.top_p,
                                         min_p=body.min_p)}


def _infiller(request: Request):
    inf = request.app.state.infill
    if inf is None:
        raise errors.HttpError(404, "infill_disabled",
                               "this server has no fill-in-the-middle",
                               "start it with `slm serve`, which enables /infill")
    return inf


def model_name(request: Request, given: str | None, inf) -> str:
    """The model to use: the request's, the infiller's default, or the one loaded."""
    if given:
        return given
    if inf.default_model:
        return inf.default_model
    loaded = request.app.state.service.registry.loaded()
    if loaded:
        return loaded[0].name
    raise errors.HttpError(400, "invalid_request", "model: required (no default model)")


def _indent_cut(text: str, n_indent: int) -> str:
    """llama.cpp's ``n_indent``: stop at a new line indented less than ``n_indent``."""
    if n_indent <= 0:
        return text
    lines = text.split("\n")
    for i, line in enumerate(lines[1:], 1):
        if line.strip() and len(line) - len(line.lstrip(" \t")) < n_indent:
            return "\n".join(lines[:i]) + "\n"
    return text


def _answer(model: str, text: str, res_finish, usage, seconds: float) -> dict[str, Any]:
    prompt_ms = 1000.0 * usage.prompt_seconds
    predicted_ms = 1000.0 * usage.decode_seconds
    return {
        "content": text, "stop": True, "model": model,
        "stop_type": {"length": "limit", "stop": "eos"}.get(res_finish or "", "eos"),
        "tokens_predicted": usage.completion_tokens,
        "tokens_evaluated": usage.prompt_tokens, "tokens_cached": usage.cached_tokens,
        "truncated": False,
        "timings": {
            "prompt_n": usage.prompt_tokens - usage.cached_tokens, "prompt_ms": prompt_ms,
            "prompt_per_second": (usage.prompt_tokens - usage.cached_tokens)
            / max(usage.prompt_seconds, 1e-9),
            "predicted_n": usage.completion_tokens, "predicted_ms": predicted_ms,
            "predicted_per_second": usage.completion_tokens / max(usage.decode_seconds, 1e-9),
            "total_ms": 1000.0 * seconds},
    }


@router.post("/infill")
async def infill(body: InfillRequest, request: Request):
    try:
        inf = _infiller(request)
        name = model_name(request, body.model, inf)
    except errors.HttpError as err:
        return error_response(request, err)
    svc = request.app.state.service
    finisher: dict[str, Any] = {}

    def build(m):
        gen_request, finish = inf.build(m.engine, fields(body, m))
        finisher["finish"] = finish
        return gen_request

    model, gen = await svc.start(name, build, log=request.state.log)
    if body.stream:
        return GenerationResponse(gen, _events(gen, body, model.name, request.url.path),
                                  "text/event-stream")
    res = await svc.collect(gen, disconnect_waiter(request))
    text = _indent_cut(finisher["finish"](res.text), body.n_indent)
    return JSONResponse(_answer(model.name, text, res.finish_reason, res.usage, res.seconds))


def _sse(obj) -> bytes:
    return b"data: " + json.dumps(obj, ensure_ascii=False).encode() + b"\n\n"


async def _events(gen, body: InfillRequest, model: str, path: str):
    last = None
    try:
        async for batch in gen.batches():
            for chunk in batch:
                if chunk.text:
                    yield _sse({"content": chunk.text, "stop": False})
                last = chunk
    except Exception as err:  # noqa: BLE001 - reported in the stream
        yield _sse(errors.body(path, errors.from_exception(err)))
        return
    from slmkit.core.types import Usage

    usage = last.usage if last is not None and last.usage is not None else Usage()
    finish = last.finish_reason if last is not None else None
    yield _sse({**_answer(model, "", finish, usage, 0.0)})
