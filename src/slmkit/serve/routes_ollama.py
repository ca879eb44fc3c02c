"""Ollama-compatible routes: generate, chat, embed, tags, show, ps, version.

Streaming answers are NDJSON (one JSON object per line) and the default, as in Ollama.
An empty prompt (or message list) only loads the model — or unloads it with
``keep_alive: 0`` — again as Ollama does.
"""

from __future__ import annotations

import json
import math
import time

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from slmkit import __version__
from slmkit.serve import errors, service
from slmkit.serve import protocol_ollama as ol
from slmkit.serve.app import GenerationResponse, disconnect_waiter
from slmkit.serve.toolrun import ToolRun

router = APIRouter()
NDJSON = "application/x-ndjson"
FOREVER = "2318-01-01T00:00:00Z"  # how Ollama clients see "never expires"


def _svc(request: Request) -> service.Service:
    return request.app.state.service


def _line(obj) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


async def _load_only(request: Request, name: str, keep_alive: float | None, chat: bool):
    svc = _svc(request)
    model = await svc.acquire(name)
    await svc.release(model, keep_alive)
    unloaded = keep_alive == 0 and svc.registry.get_loaded(model.name) is not model
    reason = "unload" if unloaded else "load"
    body = (ol.chat_done(model.name, "", reason, {}) if chat
            else ol.generate_done(model.name, "", reason, {}))
    body["done_reason"] = reason
    return body


@router.post("/api/generate")
async def generate(body: ol.GenerateRequest, request: Request):
    keep_alive = ol.keep_alive_seconds(body.keep_alive)
    if not body.prompt and not body.raw:
        return await _load_only(request, body.model, keep_alive, chat=False)
    svc = _svc(request)
    model, gen = await svc.start(body.model, lambda m: service.ollama_generate(body, m),
                                 keep_alive=keep_alive, log=request.state.log)
    if body.stream:
        return GenerationResponse(gen, _events(gen, model.name, request.url.path,
                                               chat=False), NDJSON)
    res = await svc.collect(gen, disconnect_waiter(request))
    return ol.generate_done(model.name, res.text, res.finish_reason,
                            ol.done_stats(res.usage, res.seconds))


@router.post("/api/chat")
async def chat(body: ol.ChatRequest, request: Request):
    keep_alive = ol.keep_alive_seconds(body.keep_alive)
    if not body.messages:
        return await _load_only(request, body.model, keep_alive, chat=True)
    svc = _svc(request)
    plan = service.ollama_tool_plan(body)

    def build(m):
        return service.with_tools(service.ollama_chat(body, m), plan, m)

    model, gen = await svc.start(body.model, build, keep_alive=keep_alive,
                                 log=request.state.log)
    if plan is not None:
        run = ToolRun(svc, model, gen, plan, request.state.log)
        if body.stream:
            return GenerationResponse(gen, _tool_events(run, model.name, request.url.path),
                                      NDJSON)
        turn = await run.result(disconnect_waiter(request))
        return ol.chat_done(model.name, turn.content or "", turn.finish,
                            ol.done_stats(turn.usage, time.perf_counter() - gen.t0), turn.calls)
    if body.stream:
        return GenerationResponse(gen, _events(gen, model.name, request.url.path, chat=True),
                                  NDJSON)
    res = await svc.collect(gen, disconnect_waiter(request))
    return ol.chat_done(model.name, res.text, res.finish_reason,
                        ol.done_stats(res.usage, res.seconds))


async def _tool_events(run: ToolRun, model: str, path: str):
    try:
        async for piece in run.deltas():
            yield _line(ol.chat_part(model, piece))
        turn = run.turn
        yield _line(ol.chat_done(model, "", turn.finish,
                                 ol.done_stats(turn.usage, time.perf_counter() - run.gen.t0),
                                 turn.calls))
    except Exception as err:  # noqa: BLE001 - reported in the stream; headers are sent
        yield _line(errors.body(path, errors.from_exception(err)))


async def _events(gen, model: str, path: str, *, chat: bool):
    part = ol.chat_part if chat else ol.generate_part
    try:
        async for batch in gen.batches():
            out = []
            for chunk in batch:
                if chunk.finish_reason is not None:
                    stats = ol.done_stats(chunk.usage, time.perf_counter() - gen.t0) \
                        if chunk.usage else {}
                    done = ol.chat_done if chat else ol.generate_done
                    out.append(_line(done(model, chunk.text, chunk.finish_reason, stats)))
                elif chunk.text:
                    out.append(_line(part(model, chunk.text)))
            yield b"".join(out)
    except Exception as err:  # noqa: BLE001 - reported in the stream; headers are sent
        yield _line(errors.body(path, errors.from_exception(err)))


@router.post("/api/embed")
async def embed(body: ol.EmbedRequest, request: Request):
    texts = [body.input] if isinstance(body.input, str) else list(body.input)
    t0 = time.perf_counter()
    model, vectors, n = await _svc(request).embed(
        body.model, texts, keep_alive=ol.keep_alive_seconds(body.keep_alive),
        log=request.state.log)
    return {"model": model.name, "embeddings": vectors,
            "total_duration": int((time.perf_counter() - t0) * 1e9), "load_duration": 0,
            "prompt_eval_count": n}


@router.post("/api/embeddings")
async def embeddings_legacy(body: ol.LegacyEmbeddingsRequest, request: Request):
    _, vectors, _ = await _svc(request).embed(body.model, [body.prompt], log=request.state.log)
    return {"embedding": vectors[0]}


@router.get("/api/tags")
async def tags(request: Request):
    available = await anyio.to_thread.run_sync(_svc(request).registry.available)
    return {"models": [ol.model_entry(a.name, a.size_bytes, a.digest, a.modified, a.info)
                       for a in available]}


@router.get("/api/ps")
async def ps(request: Request):
    registry, out = _svc(request).registry, []
    for m in registry.loaded():
        entry = ol.model_entry(m.name, m.memory_bytes or m.info.size_bytes, m.digest,
                               m.loaded_at, m.info)
        del entry["modified_at"]
        expires = m.expires_at if m.active == 0 else time.time() + registry.keep_alive
        entry["expires_at"] = FOREVER if math.isinf(m.expires_at) else ol.iso(expires)
        entry["size_vram"] = 0
        entry["context_length"] = m.info.n_ctx
        out.append(entry)
    return {"models": out}


@router.post("/api/show")
async def show(body: ol.ShowRequest, request: Request):
    registry = _svc(request).registry
    spec = await anyio.to_thread.run_sync(registry.resolve, body.target)
    loaded = registry.get_loaded(spec.name)
    if loaded is not None:
        info, defaults = loaded.info, loaded.defaults
    else:
        available = await anyio.to_thread.run_sync(registry.available)
        found = [a for a in available if a.name == spec.name]
        info, defaults = (found[0].info if found else None), None
    return _show_body(info, defaults)


def _show_body(info, defaults) -> dict:
    params = []
    if defaults is not None:
        params += [f"{k} {v}" for k, v in defaults.sampling.items()]
        if defaults.system:
            params.append(f"system {json.dumps(defaults.system)}")
    body = {"modelfile": "", "parameters": "\n".join(params), "template": "",
            "details": ol.details(info), "model_info": {}, "capabilities": ["completion"]}
    if info is not None:
        arch = info.architecture
        body["template"] = info.chat_template or ""
        body["model_info"] = {"general.architecture": arch,
                              "general.parameter_count": info.n_params,
                              f"{arch}.context_length": info.n_ctx_train or info.n_ctx,
                              f"{arch}.embedding_length": info.n_embd}
        caps = ["completion", "tools"]
        if info.capabilities.embed:
            caps.append("embedding")
        body["capabilities"] = caps
    return body


@router.get("/api/version")
async def version():
    return {"version": __version__}


@router.post("/api/pull")
async def pull(request: Request):
    return JSONResponse(errors.body(request.url.path, errors.HttpError(
        501, "not_supported", "pulling through the server is disabled",
        "run `slm pull MODEL` on the server machine")), status_code=501)
