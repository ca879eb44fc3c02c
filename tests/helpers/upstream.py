"""A real, tiny OpenAI-compatible upstream on 127.0.0.1 that records every request body it
receives and answers deterministically. It can also fail on purpose (an HTTP status, with
Retry-After; a delay before answering; a stall or an error in the middle of a stream).

The chat answer echoes the last user message ("You said: …"), streamed in 4-character
pieces, so placeholders come back split across chunks.
"""


# no "from __future__ import annotations": FastAPI resolves the Request annotations at runtime
import asyncio
import json
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field

PIECE = 4


@dataclass
class Fault:
    """What to do to the next request instead of answering normally."""

    status: int | None = None
    message: str = ""
    retry_after: str | None = None
    delay: float = 0.0  # before the response starts
    stall_after: int | None = None  # pieces sent before stalling
    stall: float = 0.0
    error_after: int | None = None  # pieces sent before an error event


@dataclass
class Recording:
    requests: list[dict] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, path: str, body: dict, headers: dict) -> None:
        with self.lock:
            self.requests.append({"path": path, "body": body, "headers": headers})

    def bodies(self) -> list[str]:
        with self.lock:
            return [json.dumps(r["body"], ensure_ascii=False) for r in self.requests]


def answer_for(body: dict) -> str:
    if "messages" in body:
        users = [m["content"] for m in body["messages"] if m["role"] == "user"]
        return "You said: " + (users[-1] if users else "")
    return "Completion of: " + body.get("prompt", "")[-60:]


def make_app(recording: Recording, faults: deque):
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse, StreamingResponse

    app = FastAPI()

    @app.get("/v1/models")
    async def models():
        return {"object": "list", "data": [{"id": "big-model", "object": "model",
                                            "max_model_len": 8192}]}

    @app.post("/v1/embeddings")
    async def embeddings(request: Request):
        body = await request.json()
        recording.add("/v1/embeddings", body, dict(request.headers))
        return {"data": [{"index": i, "embedding": [float(len(t)), 1.0]}
                         for i, t in enumerate(body["input"])]}

    async def complete(request: Request, path: str):
        body = await request.json()
        recording.add(path, body, dict(request.headers))
        fault = faults.popleft() if faults else Fault()
        if fault.delay:
            await asyncio.sleep(fault.delay)
        if fault.status:
            headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
            message = fault.message or f"injected {fault.status}"
            return JSONResponse({"error": {"message": message}},
                                status_code=fault.status, headers=headers)
        if not body.get("stream"):
            return JSONResponse({"choices": [{"message": {"role": "assistant",
                                                          "content": answer_for(body)}}]})
        return StreamingResponse(_events(body, fault, path), media_type="text/event-stream")

    @app.post("/v1/chat/completions")
    async def chat(request: Request):
        return await complete(request, "/v1/chat/completions")

    @app.post("/v1/completions")
    async def completions(request: Request):
        return await complete(request, "/v1/completions")

    return app


async def _events(body: dict, fault: Fault, path: str):
    text = answer_for(body)
    pieces = [text[i:i + PIECE] for i in range(0, len(text), PIECE)]
    if body.get("max_tokens") is not None:  # 0 means none, as the OpenAI API has it
        pieces = pieces[: body["max_tokens"]]
    chat = path.endswith("chat/completions")
    for n, piece in enumerate(pieces):
        if fault.stall_after is not None and n == fault.stall_after:
            await asyncio.sleep(fault.stall)
        if fault.error_after is not None and n == fault.error_after:
            yield f"data: {json.dumps({'error': {'message': 'injected mid-stream error'}})}\n\n"
            return
        lp = {"token": piece, "logprob": -0.25,
              "top_logprobs": [{"token": piece, "logprob": -0.25}]}
        choice = ({"index": 0, "delta": {"content": piece}, "logprobs": {"content": [lp]}}
                  if chat else {"index": 0, "text": piece})
        yield f"data: {json.dumps({'choices': [choice]})}\n\n"
    finish = "length" if len(pieces) * PIECE < len(text) else "stop"
    last = {"index": 0, "delta": {}, "finish_reason": finish} if chat else {
        "index": 0, "text": "", "finish_reason": finish}
    yield f"data: {json.dumps({'choices': [last]})}\n\n"
    usage = {"prompt_tokens": len(json.dumps(body)) // 4, "completion_tokens": len(pieces)}
    yield f"data: {json.dumps({'choices': [], 'usage': usage})}\n\n"
    yield "data: [DONE]\n\n"


class Upstream:
    """The recording server, running in a thread until :meth:`stop`."""

    def __init__(self) -> None:
        import uvicorn

        self.recording, self.faults = Recording(), deque()
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(make_app(self.recording, self.faults), log_level="error",
                                timeout_graceful_shutdown=1)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run,
                                        kwargs={"sockets": [self._sock]}, daemon=True)
        self._thread.start()
        deadline = time.time() + 10
        while not self._server.started:
            if time.time() > deadline:
                raise RuntimeError("the test upstream did not start")
            time.sleep(0.01)

    def inject(self, *faults: Fault) -> None:
        self.faults.extend(faults)

    def reset(self) -> None:
        self.faults.clear()
        with self.recording.lock:
            self.recording.requests.clear()

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=5)
        self._sock.close()


def closed_port_url() -> str:
    """A URL on which nothing listens (connections are refused)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}"
