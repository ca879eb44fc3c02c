"""A local fake of Amazon Bedrock Runtime (Converse, ConverseStream) and SageMaker Runtime
(InvokeEndpoint, InvokeEndpointWithResponseStream) speaking the real wire format, for
boto3 clients pointed at it with ``endpoint_url``.

- Converse: rest-json; errors as AWS sends them (status, ``x-amzn-ErrorType``, JSON body).
- ConverseStream and the SageMaker response stream: ``application/vnd.amazon.eventstream``
  frames (prelude with lengths and CRC32, typed headers, payload, message CRC32) sent with
  HTTP/1.1 chunked transfer encoding, one frame per write, as AWS does.

Answers are deterministic: the last user text echoed ("You said: …") in 4-character
pieces; a request with tools whose last user text mentions "weather" gets a ``toolUse``
(its input streamed in two JSON fragments); a tool result is answered from its text.
``faults`` fail the next requests on purpose (throttling, in-stream exceptions).
"""

from __future__ import annotations

import binascii
import functools
import json
import struct
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

PIECE = 4
MODELS = ("anthropic.claude-3-5-haiku-20241022-v1:0", "us.anthropic.claude-3-5-haiku-20241022-v1:0",
          "amazon.nova-micro-v1:0")
ENDPOINTS = ("slm-endpoint", "slm-endpoint-jsonl")
INVALID_MODEL = "The provided model identifier is invalid."


# ---- the event stream encoding ------------------------------------------------------------
def encode_headers(headers: dict[str, str]) -> bytes:
    """Headers as typed (7 = string) name/value records."""
    out = b""
    for name, value in headers.items():
        n, v = name.encode(), value.encode()
        out += struct.pack("B", len(n)) + n + b"\x07" + struct.pack(">H", len(v)) + v
    return out


def encode_message(headers: dict[str, str], payload: bytes) -> bytes:
    """One event stream message: prelude (total length, headers length, CRC32 of both),
    headers, payload, CRC32 of everything before it."""
    hdrs = encode_headers(headers)
    prelude = struct.pack(">II", 16 + len(hdrs) + len(payload), len(hdrs))
    prelude += struct.pack(">I", binascii.crc32(prelude) & 0xFFFFFFFF)
    message = prelude + hdrs + payload
    return message + struct.pack(">I", binascii.crc32(message) & 0xFFFFFFFF)


def event(event_type: str, body: dict) -> bytes:
    return encode_message({":event-type": event_type, ":content-type": "application/json",
                           ":message-type": "event"}, json.dumps(body).encode())


def exception(exception_type: str, message: str) -> bytes:
    return encode_message({":exception-type": exception_type,
                           ":content-type": "application/json",
                           ":message-type": "exception"},
                          json.dumps({"message": message}).encode())


def payload_part(data: bytes) -> bytes:
    return encode_message({":event-type": "PayloadPart", ":content-type": "application/octet-stream",
                           ":message-type": "event"}, data)


# ---- behaviour ----------------------------------------------------------------------------
@dataclass
class Fault:
    """The next request fails: an HTTP error (``status``, ``code``) or, with
    ``in_stream``, an exception event as the stream's first message."""

    status: int = 429
    code: str = "ThrottlingException"
    message: str = "Too many requests, please wait before trying again."
    in_stream: bool = False


@dataclass
class Recording:
    requests: list[dict] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, path: str, body, headers: dict) -> None:
        with self.lock:
            self.requests.append({"path": path, "body": body, "headers": headers})

    def bodies(self) -> list[str]:
        with self.lock:
            return [json.dumps(r["body"], ensure_ascii=False) for r in self.requests]


def _texts(blocks: list[dict]) -> list[str]:
    return [b["text"] for b in blocks if "text" in b]


def plan_answer(body: dict) -> dict:
    """What to answer a Converse body: {"text": str} or {"tool": (name, input)}, the stop
    reason, and usage."""
    messages = body.get("messages") or []
    last = messages[-1]["content"] if messages else []
    results = [b["toolResult"] for b in last if "toolResult" in b]
    tools = [t["toolSpec"] for t in (body.get("toolConfig") or {}).get("tools", [])]
    forced = ((body.get("toolConfig") or {}).get("toolChoice") or {}).get("tool")
    user = " ".join(_texts(last))
    n_in = sum(len(" ".join(_texts(m["content"]))) for m in messages) // 4 + 1
    if forced:
        return {"tool": (forced["name"], {"answer": user}), "stop": "tool_use", "in": n_in}
    if results:
        text = "Tool said: " + " ".join(" ".join(_texts(r["content"])) for r in results)
    elif tools and "weather" in user:
        return {"tool": (tools[0]["name"], {"city": "Seoul", "unit": "c"}), "stop": "tool_use",
                "in": n_in}
    else:
        text = "You said: " + user
    cfg = body.get("inferenceConfig") or {}
    stop = "end_turn"
    for s in cfg.get("stopSequences") or ():
        if s in text:
            text, stop = text[:text.index(s)], "stop_sequence"
    pieces = [text[i:i + PIECE] for i in range(0, len(text), PIECE)]
    if cfg.get("maxTokens") is not None and len(pieces) > cfg["maxTokens"]:
        pieces, stop = pieces[:cfg["maxTokens"]], "max_tokens"
    return {"pieces": pieces, "stop": stop, "in": n_in}


def usage(plan: dict) -> dict:
    out = len(plan.get("pieces", ())) or 7
    return {"inputTokens": plan["in"], "outputTokens": out, "totalTokens": plan["in"] + out}


def converse_json(plan: dict) -> dict:
    if "tool" in plan:
        name, args = plan["tool"]
        content = [{"toolUse": {"toolUseId": "tooluse_fake01", "name": name, "input": args}}]
    else:
        content = [{"text": "".join(plan["pieces"])}]
    return {"output": {"message": {"role": "assistant", "content": content}},
            "stopReason": plan["stop"], "usage": usage(plan), "metrics": {"latencyMs": 12}}


def converse_events(plan: dict) -> list[bytes]:
    frames = [event("messageStart", {"role": "assistant", "p": "abcd"})]
    if "tool" in plan:
        name, args = plan["tool"]
        raw = json.dumps(args)
        frames += [event("contentBlockStart", {"contentBlockIndex": 0, "start": {
            "toolUse": {"toolUseId": "tooluse_fake01", "name": name}}, "p": "ab"})]
        half = len(raw) // 2
        for part in (raw[:half], raw[half:]):
            frames.append(event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {
                "toolUse": {"input": part}}, "p": "abc"}))
    else:
        for piece in plan["pieces"]:
            frames.append(event("contentBlockDelta", {"contentBlockIndex": 0,
                                                      "delta": {"text": piece}, "p": "abcdef"}))
    frames += [event("contentBlockStop", {"contentBlockIndex": 0, "p": "a"}),
               event("messageStop", {"stopReason": plan["stop"], "p": "abcdefgh"}),
               event("metadata", {"usage": usage(plan), "metrics": {"latencyMs": 15},
                                  "p": "abc"})]
    return frames


def sagemaker_lines(body: dict, jsonl: bool) -> list[bytes]:
    """An OpenAI chat stream (SSE ``data:`` lines, or bare JSON lines) for the body."""
    users = [m["content"] for m in body.get("messages", []) if m["role"] == "user"]
    text = "You said: " + (users[-1] if users else "")
    chunks = [{"choices": [{"index": 0, "delta": {"content": text[i:i + PIECE]},
                            "finish_reason": None}]} for i in range(0, len(text), PIECE)]
    chunks.append({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                   "usage": {"prompt_tokens": 9, "completion_tokens": len(chunks)}})
    if jsonl:
        return [json.dumps(c).encode() + b"\n" for c in chunks]
    return [b"data: " + json.dumps(c).encode() + b"\n\n" for c in chunks] + [b"data: [DONE]\n\n"]


# ---- the server -------------------------------------------------------------------------
class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, *args) -> None:  # quiet
        pass

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = json.loads(raw or b"{}")
        parts = [unquote(p) for p in self.path.split("?")[0].strip("/").split("/")]
        self.server.recording.add(self.path, body, {k.lower(): v for k, v in self.headers.items()})
        fault = self.server.next_fault()
        if fault is not None and not fault.in_stream:
            return self._error(fault.status, fault.code, fault.message)
        if len(parts) == 3 and parts[0] == "model":
            return self._bedrock(parts[1], parts[2], body, fault)
        if len(parts) == 3 and parts[0] == "endpoints":
            return self._sagemaker(parts[1], parts[2], body)
        self._error(404, "UnknownOperationException", f"no route {self.path}")

    def _bedrock(self, model: str, op: str, body: dict, fault: Fault | None) -> None:
        if model not in MODELS:
            return self._error(400, "ValidationException", INVALID_MODEL)
        plan = plan_answer(body)
        if op == "converse":
            return self._json(200, converse_json(plan))
        frames = converse_events(plan)
        if fault is not None:
            frames = [exception(fault.code[0].lower() + fault.code[1:], fault.message)]
        self._frames(frames)

    def _sagemaker(self, name: str, op: str, body: dict) -> None:
        if name not in ENDPOINTS:
            return self._error(400, "ValidationError",
                               f"Endpoint {name} of account 123456789012 not found.")
        jsonl = name.endswith("-jsonl")
        if op == "invocations":
            text = b"".join(sagemaker_lines(body, jsonl=True))
            answer = {"choices": [{"message": {"role": "assistant", "content": "".join(
                json.loads(line)["choices"][0]["delta"].get("content", "")
                for line in text.splitlines())}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 9, "completion_tokens": 3}}
            return self._json(200, answer, {"X-Amzn-Invoked-Production-Variant": "AllTraffic"})
        data = b"".join(sagemaker_lines(body, jsonl))
        step = self.server.part_size  # parts cut lines (and UTF-8 characters) anywhere
        self._frames([payload_part(data[i:i + step]) for i in range(0, len(data), step)],
                     {"X-Amzn-Invoked-Production-Variant": "AllTraffic"})

    def _json(self, status: int, obj: dict, headers: dict | None = None) -> None:
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("x-amzn-RequestId", "fake-request-id")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, code: str, message: str) -> None:
        data = json.dumps({"message": message}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("x-amzn-ErrorType", f"{code}:http://internal.amazon.com/coral/")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _frames(self, frames: list[bytes], headers: dict | None = None) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/vnd.amazon.eventstream")
        self.send_header("x-amzn-RequestId", "fake-request-id")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for frame in frames:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(frame), frame))
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.recording = Recording()
        self.faults: deque[Fault] = deque()
        self.part_size = 7
        self._lock = threading.Lock()

    def next_fault(self) -> Fault | None:
        with self._lock:
            return self.faults.popleft() if self.faults else None


class FakeAws:
    """The fake on 127.0.0.1 (a random port) in a daemon thread; ``url`` for endpoint_url."""

    def __init__(self) -> None:
        self.server = _Server()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.recording, self.faults = self.server.recording, self.server.faults
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def reset(self) -> None:
        with self.recording.lock:
            self.recording.requests.clear()
        self.faults.clear()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@functools.lru_cache(maxsize=None)
def dummy_session(region: str = "us-east-1"):
    """A boto3 session with made-up credentials (never the user's); one per region, shared
    by the tests (a session loads each service model once)."""
    import boto3

    return boto3.Session(aws_access_key_id=DUMMY_KEY_ID, aws_secret_access_key=DUMMY_SECRET,
                         region_name=region)


DUMMY_KEY_ID = "AKIAFAKEFAKEFAKE0001"
DUMMY_SECRET = "fakeSecretKeyThatMustNeverBeLogged0000000"  # noqa: S105 - a test value
