"""What SageMaker endpoints stream back, as text: the response stream's ``PayloadPart``
bytes cut lines (and UTF-8 characters) anywhere, so bytes are gathered into whole lines
first. A line is an SSE ``data:`` event or a bare JSON line, holding an OpenAI chat or
completion chunk (slmkit's own container, vLLM, LMI) or a TGI token event. No I/O here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from slmkit.runtime.remote.protocol import FINISH_MAP, Delta, parse_event

DONE = object()  # the SSE end marker ``data: [DONE]``


class LineBuffer:
    """Bytes in, whole lines out (a line may arrive over many parts)."""

    def __init__(self) -> None:
        self._buf = b""

    def push(self, data: bytes) -> list[str]:
        """Add one part; return the lines it completed (without newlines)."""
        self._buf += data
        *lines, self._buf = self._buf.split(b"\n")
        return [line.decode("utf-8").rstrip("\r") for line in lines]

    def flush(self) -> list[str]:
        """The last line when the stream ended without a newline."""
        rest, self._buf = self._buf, b""
        return [rest.decode("utf-8")] if rest.strip() else []


def payloads(lines: list[str]) -> Iterator[dict | object]:
    """JSON objects (or :data:`DONE`) from SSE ``data:`` lines and bare JSON lines."""
    for line in lines:
        line = line.strip()
        if not line or line.startswith((":", "event:", "id:", "retry:")):
            continue
        if line.startswith("data:"):
            line = line[5:].strip()
        if line == "[DONE]":
            yield DONE
        elif line:
            yield json.loads(line)


def delta_of(obj: dict) -> Delta:
    """One streamed object → text, finish reason, usage (OpenAI or TGI shapes)."""
    if "token" in obj:  # Hugging Face TGI: {"token": {"text", "special"}, "details": …}
        token = obj.get("token") or {}
        details = obj.get("details") or {}
        reason = details.get("finish_reason")
        usage = ({"completion_tokens": details["generated_tokens"]}
                 if "generated_tokens" in details else None)
        return Delta(text="" if token.get("special") else token.get("text", ""),
                     finish_reason=_tgi_finish(reason) if reason else None, usage=usage)
    return parse_event(obj)


def _tgi_finish(reason: str) -> str:
    return "length" if reason == "length" else "stop"


def whole_text(data: bytes) -> tuple[str, str, dict]:
    """(text, finish reason, usage) of a whole (non-streamed) answer: an OpenAI chat or
    completion response, or TGI's ``[{"generated_text": …}]``."""
    obj = json.loads(data.decode("utf-8"))
    if isinstance(obj, list):
        obj = obj[0] if obj else {}
    if "generated_text" in obj:
        return obj["generated_text"], "stop", {}
    choice = (obj.get("choices") or [{}])[0]
    text = (choice.get("message") or {}).get("content") or choice.get("text") or ""
    reason = FINISH_MAP.get(choice.get("finish_reason") or "stop", "stop")
    return text, reason, obj.get("usage") or {}
