"""``POST /v1/responses``: the OpenAI Responses API on the same service as chat
completions (tools through :mod:`.toolrun`, structured output through ``text.format``),
as one JSON response or as its typed server-sent events."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from slmkit.core.types import GenerateRequest, Usage
from slmkit.serve import errors, service
from slmkit.serve import tools as toolkit
from slmkit.serve import protocol_responses as rs
from slmkit.serve.app import GenerationResponse, disconnect_waiter
from slmkit.serve.protocol_openai import new_id
from slmkit.serve.toolrun import ToolRun, Turn

router = APIRouter()


def build(body: rs.ResponsesRequest, model) -> GenerateRequest:
    """The chat request behind a Responses request (without its tools)."""
    schema = body.schema()
    if schema is not None and body.tools and body.tool_choice != "none":
        raise ValueError("use either tools or text.format json_schema, not both")
    return GenerateRequest(
        messages=service.with_system(rs.messages(body), model.defaults),
        max_tokens=body.max_output_tokens, json_schema=schema,
        sampling=service.sampling(model.defaults, temperature=body.temperature,
                                  top_p=body.top_p))


@router.post("/v1/responses")
async def responses(body: rs.ResponsesRequest, request: Request):
    svc = request.app.state.service
    plan = None
    if body.tools:
        plan = toolkit.plan(body.tool_specs(), body.choice(),
                                    parallel=body.parallel_tool_calls)
    elif body.choice() not in (None, "none", "auto"):
        raise ValueError("tool_choice is set but no tools were given")
    model, gen = await svc.start(body.model,
                                 lambda m: service.with_tools(build(body, m), plan, m),
                                 log=request.state.log)
    rid, created = new_id("resp"), rs.now()
    run = ToolRun(svc, model, gen, plan, request.state.log) if plan else None
    if body.stream:
        events = _Events(rid, body, model.name, created)
        return GenerationResponse(gen, events.stream(gen, run, request.url.path),
                                  "text/event-stream")
    if run is not None:
        turn = await run.result(disconnect_waiter(request))
    else:
        res = await svc.collect(gen, disconnect_waiter(request))
        turn = Turn(res.text, [], res.finish_reason, res.usage)
    output = ([rs.message_item(turn.content, item_id=new_id("msg"))] if turn.content else [])
    output += [rs.call_item(c) for c in turn.calls]
    incomplete = "max_output_tokens" if turn.finish == "length" and not turn.calls else None
    return JSONResponse(rs.response(rid, body, model.name, created, output=output,
                                    status="incomplete" if incomplete else "completed",
                                    u=turn.usage, incomplete=incomplete))


@dataclass
class _Events:
    """The typed events of one streamed response, numbered in order."""

    rid: str
    body: rs.ResponsesRequest
    model: str
    created: int
    seq: int = 0
    output: list[dict] = field(default_factory=list)

    def event(self, kind: str, **fields) -> bytes:
        data = {"type": kind, "sequence_number": self.seq, **fields}
        self.seq += 1
        return (f"event: {kind}\ndata: ".encode()
                + json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
                + b"\n\n")

    def snapshot(self, status: str, u=None, incomplete=None) -> dict:
        return rs.response(self.rid, self.body, self.model, self.created,
                           output=list(self.output), status=status, u=u,
                           incomplete=incomplete)

    async def stream(self, gen, run: ToolRun | None, path: str):
        yield self.event("response.created", response=self.snapshot("in_progress"))
        yield self.event("response.in_progress", response=self.snapshot("in_progress"))
        text = _Text(self, new_id("msg"))
        try:
            if run is not None:
                async for piece in run.deltas():
                    yield text.delta(piece)
                turn = run.turn
            else:
                turn, last = Turn(""), None
                async for batch in gen.batches():
                    for chunk in batch:
                        last = chunk
                        if chunk.text:
                            yield text.delta(chunk.text)
                turn.finish = last.finish_reason if last else "cancelled"
                turn.usage = last.usage if last and last.usage else Usage()
            yield text.done()
            for call in turn.calls:
                yield self.call(call)
            incomplete = "max_output_tokens" if turn.finish == "length" else None
            kind = "response.incomplete" if incomplete else "response.completed"
            yield self.event(kind, response=self.snapshot(
                "incomplete" if incomplete else "completed", turn.usage, incomplete))
        except Exception as err:  # noqa: BLE001 - reported in the stream; headers are sent
            e = errors.from_exception(err)
            yield self.event("error", code=e.code, message=e.message, param=None)

    def call(self, call: dict) -> bytes:
        item = rs.call_item(call)
        index = len(self.output)
        self.output.append(item)
        pending = dict(item, arguments="", status="in_progress")
        return b"".join([
            self.event("response.output_item.added", output_index=index, item=pending),
            self.event("response.function_call_arguments.delta", item_id=item["id"],
                       output_index=index, delta=item["arguments"]),
            self.event("response.function_call_arguments.done", item_id=item["id"],
                       output_index=index, name=item["name"], arguments=item["arguments"]),
            self.event("response.output_item.done", output_index=index, item=item)])


class _Text:
    """The message item of a streamed response: opened at its first text."""

    def __init__(self, events: _Events, item_id: str) -> None:
        self.events, self.id, self.parts, self.index = events, item_id, [], None

    def delta(self, piece: str) -> bytes:
        ev, out = self.events, []
        if self.index is None:
            self.index = len(ev.output)
            ev.output.append(rs.message_item("", item_id=self.id, done=False))
            out += [ev.event("response.output_item.added", output_index=self.index,
                             item=rs.message_item("", item_id=self.id, done=False)),
                    ev.event("response.content_part.added", item_id=self.id,
                             output_index=self.index, content_index=0,
                             part=rs.output_text(""))]
        self.parts.append(piece)
        out.append(ev.event("response.output_text.delta", item_id=self.id,
                            output_index=self.index, content_index=0, delta=piece,
                            logprobs=[]))
        return b"".join(out)

    def done(self) -> bytes:
        if self.index is None:
            return b""
        ev, text = self.events, "".join(self.parts)
        item = rs.message_item(text, item_id=self.id)
        ev.output[self.index] = item
        return b"".join([
            ev.event("response.output_text.done", item_id=self.id, output_index=self.index,
                     content_index=0, text=text, logprobs=[]),
            ev.event("response.content_part.done", item_id=self.id, output_index=self.index,
                     content_index=0, part=rs.output_text(text)),
            ev.event("response.output_item.done", output_index=self.index, item=item)])
