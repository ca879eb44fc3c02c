"""Plain data passed between slmkit's parts: requests, streamed chunks, usage, references."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

_ids = itertools.count(1)

ROLES = ("system", "user", "assistant", "tool")
FINISH_REASONS = ("stop", "length", "timeout", "cancelled", "error")


@dataclass(frozen=True)
class ToolCall:
    """A function call an assistant made: the function's name and its JSON arguments."""

    name: str
    arguments: dict = field(default_factory=dict)
    id: str = ""

    def to_dict(self) -> dict:
        """The shape chat templates expect (Hugging Face's): arguments as an object."""
        return {"id": self.id, "type": "function",
                "function": {"name": self.name, "arguments": self.arguments}}


@dataclass(frozen=True)
class ChatMessage:
    """One chat turn. An assistant turn may carry ``tool_calls``; a ``tool`` turn is the
    result of the call ``tool_call_id`` (its ``name`` is the function's)."""

    role: str
    content: str
    name: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"unknown chat role {self.role!r}; expected one of {ROLES}")

    def to_dict(self) -> dict:
        d: dict = {"role": self.role, "content": self.content}
        if self.name:
            d["name"] = self.name
        if self.tool_calls:
            d["tool_calls"] = [c.to_dict() for c in self.tool_calls]
        if self.tool_call_id:
            d["tool_call_id"] = self.tool_call_id
        return d


@dataclass(frozen=True)
class SamplingParams:
    """How the next token is chosen. ``temperature <= 0`` means greedy (argmax).

    Defaults follow llama.cpp's. ``seed=None`` draws a fresh seed per request; a fixed
    seed with the same prompt and parameters gives the same output on the same build.
    """

    temperature: float = 0.8
    top_p: float = 0.95
    top_k: int = 40
    min_p: float = 0.05
    repeat_penalty: float = 1.0
    repeat_last_n: int = 64
    frequency_penalty: float = 0.0
    presence_penalty: float = 0.0
    seed: int | None = None

    @property
    def greedy(self) -> bool:
        return self.temperature <= 0.0

    def validate(self) -> None:
        if not 0.0 < self.top_p <= 1.0:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.top_k < 0:
            raise ValueError(f"top_k must be >= 0 (0 disables it), got {self.top_k}")
        if not 0.0 <= self.min_p < 1.0:
            raise ValueError(f"min_p must be in [0, 1), got {self.min_p}")
        if self.repeat_penalty <= 0.0:
            raise ValueError(f"repeat_penalty must be > 0, got {self.repeat_penalty}")
        for name, value in (("frequency_penalty", self.frequency_penalty),
                            ("presence_penalty", self.presence_penalty)):
            if not -2.0 <= value <= 2.0:
                raise ValueError(f"{name} must be in [-2, 2], got {value}")

    @classmethod
    def layered(cls, given: Mapping, defaults: Mapping, seed: int | None = None
                ) -> SamplingParams:
        """One precedence rule: ``given`` (a request, the command line), then ``defaults``
        (the model's catalog defaults), then the field defaults above; None means unset."""
        chosen = {}
        for name in SAMPLING_FIELDS:
            value = given.get(name)
            if value is None:
                value = defaults.get(name)
            if value is not None:
                chosen[name] = value
        return cls(seed=seed, **chosen)


SAMPLING_FIELDS = ("temperature", "top_p", "top_k", "min_p", "repeat_penalty", "repeat_last_n",
                   "frequency_penalty", "presence_penalty")  # SamplingParams' fields but seed


GREEDY = SamplingParams(temperature=0.0)


@dataclass(frozen=True)
class ToolCallConstraint:
    """Tool calls as JSON valid under ``call_schema`` (``{"name": …, "arguments": {…}}``,
    usually an ``anyOf`` with one entry per function in ``names``), each either wrapped in
    ``open`` … ``close`` (``<tool_call>`` … ``</tool_call>`` in Qwen and Hermes templates)
    or bare (``{"name": "<one of names>", …}``, as small models often write them).

    ``lazy``: the model writes freely and the constraint starts when it begins a call
    itself (``open``, or a bare ``{"name": "<one of names>"``), so it may answer in text;
    otherwise the answer is calls only. ``parallel``: more than one call, separated by
    whitespace. After the last call the answer ends.
    """

    call_schema: dict
    names: tuple[str, ...]
    open: str = "<tool_call>"
    close: str = "</tool_call>"
    lazy: bool = True
    parallel: bool = True


@dataclass
class GenerateRequest:
    """One generation. Exactly one of ``prompt``, ``messages`` or ``prompt_tokens`` is set.

    ``messages`` are rendered with the model's chat template; ``prompt`` is used verbatim
    (special tokens in it are parsed); ``prompt_tokens`` skips tokenization.
    ``max_tokens=None`` generates until a stop condition or the context is full.
    ``logprobs=None`` returns none; ``0`` the chosen token's log-probability; ``n > 0``
    also the ``n`` most likely alternatives at each step.
    ``truncate=True`` keeps the end of an over-long prompt instead of raising
    ``ContextOverflowError``.
    ``json_schema`` constrains the output to JSON valid under that schema (``{}`` or
    ``{"type": "object"}`` for any JSON object); ``grammar`` is a raw GBNF grammar for
    backends that take one. At most one of the two is set.
    ``timeout`` (seconds, wall clock from submission) ends a request with
    ``finish_reason="timeout"``; ``None`` means no limit.
    ``tools`` (function definitions in OpenAI's shape) are given to the chat template,
    which describes them to the model in its own words; ``tool_calls`` constrains the
    calls the model writes (see :class:`ToolCallConstraint`).
    ``adapter`` names a LoRA adapter loaded into the engine to apply to this request
    (``None``: the base model alone); only engines whose ``Capabilities.adapters`` is true
    take one (see ``Engine.with_adapter``).
    """

    prompt: str | None = None
    messages: Sequence[ChatMessage] | None = None
    prompt_tokens: Sequence[int] | None = None
    max_tokens: int | None = 256
    sampling: SamplingParams = field(default_factory=SamplingParams)
    stop: Sequence[str] = ()
    logprobs: int | None = None
    grammar: str | None = None
    json_schema: dict | None = None
    truncate: bool = False
    timeout: float | None = None
    adapter: str | None = None
    tools: Sequence[dict] | None = None
    tool_calls: ToolCallConstraint | None = None
    id: str = field(default_factory=lambda: f"req-{next(_ids)}")

    def validate(self) -> None:
        given = [x is not None for x in (self.prompt, self.messages, self.prompt_tokens)]
        if sum(given) != 1:
            raise ValueError("set exactly one of prompt, messages or prompt_tokens")
        if self.max_tokens is not None and self.max_tokens < 0:
            raise ValueError(f"max_tokens must be >= 0, got {self.max_tokens}")
        if self.logprobs is not None and not 0 <= self.logprobs <= 20:
            raise ValueError(f"logprobs must be between 0 and 20, got {self.logprobs}")
        if any(not s for s in self.stop):
            raise ValueError("stop strings must be non-empty")
        constraints = (self.grammar, self.json_schema, self.tool_calls)
        if sum(c is not None for c in constraints) > 1:
            raise ValueError("set at most one of grammar, json_schema or tool_calls")
        if self.timeout is not None and self.timeout <= 0:
            raise ValueError(f"timeout must be > 0 seconds, got {self.timeout}")
        self.sampling.validate()


@dataclass(frozen=True)
class TokenLogprob:
    """A token, its text and log-probability; ``top`` holds the most likely alternatives."""

    token: int
    text: str
    logprob: float
    top: tuple[TokenLogprob, ...] = ()


@dataclass
class RouteDecision:
    """Where a routed request was answered (``local``, ``remote`` or ``fallback``) and why,
    with the signals that decided it. Set by a routing engine on the last chunk's usage."""

    route: str
    reason: str
    signals: dict = field(default_factory=dict)
    masked: int = 0  # distinct values replaced by placeholders in what was sent
    overhead_ms: float = 0.0

    def to_dict(self) -> dict:
        return {"route": self.route, "reason": self.reason, "signals": dict(self.signals),
                "masked": self.masked, "overhead_ms": round(self.overhead_ms, 3)}


@dataclass
class Usage:
    """Token counts and timings of one request. ``decision`` is the routing decision when a
    routing engine answered (``None`` otherwise)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    prompt_seconds: float = 0.0
    decode_seconds: float = 0.0
    decision: RouteDecision | None = None
    draft_tokens: int = 0  # speculative decoding: tokens drafted, and of them accepted
    accepted_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @property
    def prompt_tokens_per_second(self) -> float:
        evaluated = self.prompt_tokens - self.cached_tokens
        return evaluated / self.prompt_seconds if self.prompt_seconds > 0 else 0.0

    @property
    def decode_tokens_per_second(self) -> float:
        # The first token comes out of prompt processing; the rest are decode steps.
        steps = max(self.completion_tokens - 1, 0)
        return steps / self.decode_seconds if self.decode_seconds > 0 else 0.0

    def to_dict(self) -> dict[str, float | int]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
            "cached_tokens": self.cached_tokens,
            "prompt_seconds": round(self.prompt_seconds, 6),
            "decode_seconds": round(self.decode_seconds, 6),
            "prompt_tokens_per_second": round(self.prompt_tokens_per_second, 2),
            "decode_tokens_per_second": round(self.decode_tokens_per_second, 2),
        }


@dataclass
class Chunk:
    """A piece of streamed output. The last chunk of a stream has ``finish_reason`` and
    ``usage`` set (its ``text`` may be empty)."""

    text: str = ""
    token_ids: tuple[int, ...] = ()
    logprobs: tuple[TokenLogprob, ...] | None = None
    finish_reason: str | None = None
    usage: Usage | None = None


@dataclass
class Completion:
    """A whole answer, gathered from a stream by :func:`collect`."""

    text: str
    token_ids: list[int]
    finish_reason: str | None
    usage: Usage
    logprobs: list[TokenLogprob] | None = None


def collect(chunks: Iterable[Chunk]) -> Completion:
    """Drain a chunk stream into one :class:`Completion` (the blocking form of generate)."""
    parts: list[str] = []
    ids: list[int] = []
    lps: list[TokenLogprob] | None = None
    finish, usage = None, Usage()
    for chunk in chunks:
        parts.append(chunk.text)
        ids.extend(chunk.token_ids)
        if chunk.logprobs is not None:
            lps = (lps or []) + list(chunk.logprobs)
        if chunk.finish_reason is not None:
            finish = chunk.finish_reason
        if chunk.usage is not None:
            usage = chunk.usage
    return Completion("".join(parts), ids, finish, usage, lps)


@dataclass(frozen=True)
class ModelRef:
    """A model as the store knows it: its name, local file, digest and where it came from."""

    name: str
    path: str
    sha256: str | None = None
    source: str | None = None
    size_bytes: int = 0
