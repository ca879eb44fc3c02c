"""Ollama API shapes: pydantic request schemas and builders for response bodies.

Ollama streams by default (NDJSON, one object per line); durations are nanoseconds.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from slmkit.serve import limits as lim


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", allow_inf_nan=False)


class Options(_Lenient):
    """Ollama's ``options``. ``repeat_last_n`` (``-1``: the whole context) is clamped to
    the model's context; ``num_ctx`` is accepted but the server's ``--ctx`` applies."""

    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    top_k: lim.TopK | None = None
    min_p: float | None = Field(default=None, ge=0.0, lt=1.0)
    repeat_penalty: lim.Penalty | None = None
    frequency_penalty: float | None = Field(default=None, ge=-2.0, le=2.0)
    presence_penalty: float | None = Field(default=None, ge=-2.0, le=2.0)
    repeat_last_n: int | None = Field(default=None, ge=-1, le=lim.MAX_CONTEXT)
    seed: lim.Seed | None = None
    num_predict: int | None = Field(default=None, ge=-2, le=lim.MAX_TOKENS)
    num_ctx: int | None = Field(default=None, ge=1, le=lim.MAX_CONTEXT)
    stop: list[str] | None = None

    @field_validator("stop")
    @classmethod
    def _stops(cls, v):
        return lim.check_stops(v) if v is not None else None


class ToolFunctionCall(_Lenient):
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)


class ToolCallIn(_Lenient):
    function: ToolFunctionCall


class ChatMessageIn(_Lenient):
    role: str
    content: str = ""
    images: list[str] | None = None
    tool_calls: list[ToolCallIn] | None = None
    tool_name: str | None = None


class _Common(_Lenient):
    model: str = Field(min_length=1, max_length=512)
    options: Options = Field(default_factory=Options)
    format: str | dict[str, Any] | None = None
    stream: bool = True
    keep_alive: str | int | float | None = None


class GenerateRequest(_Common):
    prompt: str = ""
    suffix: str | None = None
    system: str | None = None
    raw: bool = False
    images: list[str] | None = None


class ChatRequest(_Common):
    messages: list[ChatMessageIn] = Field(default_factory=list)
    tools: list[dict[str, Any]] | None = None


class EmbedRequest(_Lenient):
    model: str = Field(min_length=1, max_length=512)
    input: str | list[str] = ""
    truncate: bool = True
    keep_alive: str | int | float | None = None


class LegacyEmbeddingsRequest(_Lenient):
    model: str = Field(min_length=1, max_length=512)
    prompt: str = ""


class ShowRequest(_Lenient):
    model: str | None = None
    name: str | None = None

    @property
    def target(self) -> str:
        if not (self.model or self.name):
            raise ValueError("give the model to show as 'model'")
        return self.model or self.name or ""


_DURATION = re.compile(r"\s*(-?\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*")


def keep_alive_seconds(value: str | float | None) -> float | None:
    """Ollama's keep_alive: seconds as a number, or "5m" / "1h" / "30s"; negative = forever
    (``inf``); ``None`` = the server's default."""
    if value is None:
        return None
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        m = _DURATION.fullmatch(value)
        if not m:
            raise ValueError(f"keep_alive {value!r} is not a duration such as 300, '5m' or '1h'")
        scale = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, None: 1}[m.group(2)]
        seconds = float(m.group(1)) * scale
    return float("inf") if seconds < 0 else seconds


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).isoformat().replace("+00:00", "Z")


def done_stats(usage, total_seconds: float, load_seconds: float = 0.0) -> dict[str, Any]:
    ns = 1_000_000_000
    return {"total_duration": int(total_seconds * ns), "load_duration": int(load_seconds * ns),
            "prompt_eval_count": usage.prompt_tokens,
            "prompt_eval_duration": int(usage.prompt_seconds * ns),
            "eval_count": usage.completion_tokens, "eval_duration": int(usage.decode_seconds * ns)}


def done_reason(reason: str | None) -> str:
    return {"timeout": "length", "cancelled": "stop", "error": "stop"}.get(reason or "stop",
                                                                          reason or "stop")


def generate_part(model: str, text: str) -> dict[str, Any]:
    return {"model": model, "created_at": now_iso(), "response": text, "done": False}


def generate_done(model: str, text: str, reason: str | None, stats: dict) -> dict[str, Any]:
    return {"model": model, "created_at": now_iso(), "response": text, "done": True,
            "done_reason": done_reason(reason), **stats}


def chat_part(model: str, text: str) -> dict[str, Any]:
    return {"model": model, "created_at": now_iso(),
            "message": {"role": "assistant", "content": text}, "done": False}


def chat_done(model: str, text: str, reason: str | None, stats: dict,
              tool_calls: list[dict] | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": text}
    if tool_calls:
        message["tool_calls"] = [{"function": {"name": c["name"], "arguments": c["arguments"]}}
                                 for c in tool_calls]
    return {"model": model, "created_at": now_iso(), "message": message, "done": True,
            "done_reason": done_reason(reason), **stats}


def details(info) -> dict[str, Any]:
    """Ollama's ``details`` block from a ``core.ModelInfo`` (or ``None``)."""
    if info is None:
        return {"format": "gguf", "family": "", "families": None, "parameter_size": "",
                "quantization_level": ""}
    return {"parent_model": "", "format": "gguf", "family": info.architecture,
            "families": [info.architecture] if info.architecture else None,
            "parameter_size": _param_size(info.n_params),
            "quantization_level": info.quantization}


def _param_size(n: int) -> str:
    if not n:
        return ""
    return f"{n / 1e9:.1f}B" if n >= 1e9 else f"{n / 1e6:.0f}M"


def model_entry(name: str, size: int, digest: str | None, modified: float,
                info=None) -> dict[str, Any]:
    return {"name": name, "model": name, "modified_at": iso(modified), "size": size,
            "digest": digest or "", "details": details(info)}


def error_body(message: str, hint: str | None = None) -> dict[str, Any]:
    return {"error": f"{message} ({hint})" if hint else message}
