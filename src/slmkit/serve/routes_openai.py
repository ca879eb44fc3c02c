"""OpenAI-compatible routes: chat completions, completions, embeddings, models.

Each route only maps: pydantic request → service call → response shape (JSON, or SSE
``data:`` events ending with ``data: [DONE]``).
"""

from __future__ import annotations

import json
import time

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from slmkit.serve import errors, service
from slmkit.serve import protocol_openai as oa
from slmkit.serve.app import GenerationResponse, disconnect_waiter, error_response
from slmkit.serve.toolrun import ToolRun

router = APIRouter()


def _svc(request: Request) -> service.Service:
    return request.app.state.service


def _sse(obj) -> bytes:
    return b"data: " + json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode() + b"\n\n"


def _sse_error(path: str, err: BaseException) -> bytes:
    return _sse(errors.body(path, errors.from_exception(err)))


@router.post("/v1/chat/completions")
async def chat_completions(body: oa.ChatCompletionRequest, request: Request):
    svc = _svc(request)
    plan = service.openai_tool_plan(body)
    def build(m):
        return service.with_tools(service.openai_chat(body, m), plan, m)

    model, gen = await svc.start(body.model, build, log=request.state.log)
    rid = oa.new_id("chatcmpl")
    run = ToolRun(svc, model, gen, plan, request.state.log) if plan else None
    if body.stream:
        return GenerationResponse(gen, _chat_events(gen, body, rid, model.name, run,
                                                    request.url.path), "text/event-stream")
    if run is not None:
        turn = await run.result(disconnect_waiter(request))
        return JSONResponse(oa.chat_completion(rid, model.name, turn.content, turn.finish,
                                               turn.usage, turn.logprobs, turn.calls))
    res = await svc.collect(gen, disconnect_waiter(request))
    return JSONResponse(oa.chat_completion(rid, model.name, res.text, res.finish_reason,
                                           res.usage, res.logprobs))


async def _chat_events(gen, body: oa.ChatCompletionRequest, rid: str, model: str,
                       run: ToolRun | None, path: str):
    created = int(time.time())
    yield _sse(oa.chat_chunk(rid, model, created, {"role": "assistant", "content": ""}))
    try:
        if run is not None:
            async for piece in run.deltas():
                yield _sse(oa.chat_chunk(rid, model, created, {"content": piece}))
            yield _tool_end(run.turn, body, rid, model, created)
        else:
            async for batch in gen.batches():
                yield b"".join(_chat_batch(batch, body, rid, model, created))
    except Exception as err:  # noqa: BLE001 - reported in the stream; headers are sent
        yield _sse_error(path, err)
    yield b"data: [DONE]\n\n"


def _chat_batch(batch, body, rid: str, model: str, created: int) -> list[bytes]:
    out = []
    for chunk in batch:
        if chunk.text or chunk.logprobs:
            out.append(_sse(oa.chat_chunk(rid, model, created, {"content": chunk.text},
                                          lps=chunk.logprobs)))
        if chunk.finish_reason is None:
            continue
        out.append(_sse(oa.chat_chunk(rid, model, created, {}, chunk.finish_reason)))
        if body.include_usage and chunk.usage is not None:
            out.append(_sse(oa.usage_chunk(rid, model, created, chunk.usage,
                                           "chat.completion.chunk")))
    return out


def _tool_end(turn, body, rid: str, model: str, created: int) -> bytes:
    out = []
    if turn.calls:
        delta = {"tool_calls": oa.tool_calls_out(turn.calls, streaming=True)}
        out.append(_sse(oa.chat_chunk(rid, model, created, delta)))
    out.append(_sse(oa.chat_chunk(rid, model, created, {}, turn.finish_reason)))
    if body.include_usage:
        out.append(_sse(oa.usage_chunk(rid, model, created, turn.usage,
                                       "chat.completion.chunk")))
    return b"".join(out)


@router.post("/v1/completions")
async def completions(body: oa.CompletionRequest, request: Request):
    svc = _svc(request)
    build, finish = _completion_builder(body, request)
    model, gen = await svc.start(body.model, build, log=request.state.log)
    rid = oa.new_id("cmpl")
    if body.stream:
        return GenerationResponse(gen, _completion_events(gen, body, rid, model.name,
                                                          request.url.path),
                                  "text/event-stream")
    res = await svc.collect(gen, disconnect_waiter(request))
    text = finish["finish"](res.text) if finish else res.text
    return JSONResponse(oa.completion(rid, model.name, text, res.finish_reason, res.usage,
                                      res.logprobs))


def _completion_builder(body: oa.CompletionRequest, request: Request):
    """(build, finisher holder): plain completions, or fill-in-the-middle through
    ``app.state.infill`` when ``suffix`` is given (a whole answer is then trimmed)."""
    infiller = request.app.state.infill
    if body.suffix is None or infiller is None:
        return (lambda m: service.openai_completion(body, m)), None
    holder: dict = {}

    def build(m):
        req, holder["finish"] = infiller.build(m.engine, service.openai_infill_fields(body, m))
        req.logprobs = body.logprobs
        return req

    return build, holder


async def _completion_events(gen, body: oa.CompletionRequest, rid: str, model: str, path: str):
    created, offset = int(time.time()), 0
    try:
        async for batch in gen.batches():
            out = []
            for chunk in batch:
                if chunk.text or chunk.logprobs or chunk.finish_reason:
                    out.append(_sse(oa.completion(rid, model, chunk.text, chunk.finish_reason,
                                                  None, chunk.logprobs, created=created,
                                                  text_offset=offset, with_usage=False)))
                    offset += len(chunk.text)
                if chunk.finish_reason and body.include_usage and chunk.usage is not None:
                    out.append(_sse(oa.usage_chunk(rid, model, created, chunk.usage,
                                                   "text_completion")))
            yield b"".join(out)
    except Exception as err:  # noqa: BLE001
        yield _sse_error(path, err)
    yield b"data: [DONE]\n\n"


@router.post("/v1/embeddings")
async def embeddings(body: oa.EmbeddingRequest, request: Request):
    model, vectors, n = await _svc(request).embed(body.model, body.texts(),
                                                  log=request.state.log)
    if body.dimensions is not None:
        vectors = service.shorten(vectors, body.dimensions, model.name)
    return oa.embeddings(model.name, vectors, n, body.encoding_format)


@router.get("/v1/models")
async def list_models(request: Request):
    available = await anyio.to_thread.run_sync(_svc(request).registry.available)
    return {"object": "list",
            "data": [oa.model_card(a.name, int(a.modified)) for a in available]}


@router.get("/v1/models/{model_id:path}")
async def get_model(model_id: str, request: Request):
    available = await anyio.to_thread.run_sync(_svc(request).registry.available)
    for a in available:
        if a.name == model_id:
            return oa.model_card(a.name, int(a.modified))
    return error_response(request, errors.HttpError(
        404, "model_not_found", f"model {model_id!r} not found",
        "GET /v1/models lists the models this server has"))
