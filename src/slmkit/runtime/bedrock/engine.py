"""A ``core.Engine`` over Amazon Bedrock's Converse API (boto3 ``bedrock-runtime``).

``generate`` sends ConverseStream (or Converse with ``streaming=False``) and waits for the
first event before returning, so throttling, a bad model id or missing credentials raise
there, before any chunk — a router can fall back cleanly. Throttling is retried with
backoff and jitter (``retries`` counts the retries made). Credentials come from the
standard AWS chain only and never appear in a message or a log line.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator, Sequence

from slmkit.core.engine import Capabilities, Engine, EngineStats, ModelInfo, require
from slmkit.core.errors import EngineClosedError, UnsupportedOperationError
from slmkit.core.types import ChatMessage, Chunk, GenerateRequest, TokenLogprob, Usage
from slmkit.runtime.awsclient import AwsError, AwsRetry, make_client, translate, with_retry
from slmkit.runtime.bedrock import wire
from slmkit.runtime.chat_template import render_chat
from slmkit.runtime.textstream import StopMatcher

# What serve.tools reads as "the engine takes tool definitions itself" (a Jinja comment:
# renders nothing). Bedrock gets the tools as toolConfig, not as prompt text.
TOOLS_NATIVE = "{# Bedrock Converse: tools go in toolConfig; calls come back as <tool_call> #}"


class BedrockEngine:
    """``core.Engine`` for one Bedrock model id (or inference profile). Thread-safe.

    ``region``/``profile``/``endpoint_url``/``session`` pick the client (None: the AWS
    chain and settings ``aws.region``/``aws.profile``); ``n_ctx`` is the model's context
    when known (not checked otherwise); ``retry`` bounds the retries of throttling.
    """

    def __init__(self, model_id: str, *, region: str | None = None, profile: str | None = None,
                 endpoint_url: str | None = None, session=None, name: str | None = None,
                 n_ctx: int = 0, timeout: float = 60.0, connect_timeout: float = 5.0,
                 retry: AwsRetry | None = None, streaming: bool = True,
                 max_concurrency: int = 16, sleep: Callable[[float], None] = time.sleep) -> None:
        if not model_id:
            raise ValueError("a Bedrock engine needs a model id, e.g. "
                             "bedrock:anthropic.claude-3-5-haiku-20241022-v1:0")
        self.model_id, self.streaming, self.retry = model_id, streaming, retry or AwsRetry()
        self._client = make_client("bedrock-runtime", region=region, profile=profile,
                                   endpoint_url=endpoint_url, session=session, timeout=timeout,
                                   connect_timeout=connect_timeout, max_pool=max_concurrency)
        self.region = self._client.meta.region_name
        self._sleep, self._closed = sleep, False
        self._lock = threading.Lock()
        self.retries = 0
        self.info = ModelInfo(
            name=name or f"bedrock:{model_id}", path=f"bedrock://{self.region}/{model_id}",
            architecture="bedrock", n_ctx=n_ctx, chat_template=TOOLS_NATIVE,
            capabilities=Capabilities(logprobs=False, max_sequences=max_concurrency))

    n_threads = 0  # AWS computes

    def __repr__(self) -> str:  # no credentials, ever
        return f"BedrockEngine({self.model_id!r}, region={self.region!r})"

    def stats(self) -> EngineStats:
        """Empty: Bedrock schedules the requests."""
        return {}

    # ---- generation ------------------------------------------------------------------
    def generate(self, request: GenerateRequest) -> BedrockStream:
        """Validate, send, wait for the first event (retrying throttling); then stream."""
        self._check_open()
        request.validate()
        params = dict(wire.converse_params(request), modelId=self.model_id)
        t0 = time.perf_counter()
        deadline = t0 + request.timeout if request.timeout else None
        what = f"Bedrock {self.model_id} in {self.region}"
        if not self.streaming:
            out = self._call(lambda: self._client.converse(**params), what, deadline)
            return BedrockStream.whole(out, request, t0)

        def start():
            stream = self._client.converse_stream(**params)["stream"]
            events = iter(stream)
            try:
                first = next(events, None)
            except BaseException:
                stream.close()
                raise
            return stream, itertools.chain([first] if first else [], events)

        stream, events = self._call(start, what, deadline)
        return BedrockStream(stream, events, request, t0, deadline, what)

    def _call(self, fn, what: str, deadline: float | None):
        return with_retry(fn, what=what, policy=self.retry, on_retry=self._count_retry,
                          deadline=deadline, sleep=self._sleep)

    def _count_retry(self, err: AwsError, wait: float) -> None:
        with self._lock:
            self.retries += 1

    # ---- the rest of the Engine contract ---------------------------------------------------
    def tokenize(self, text: str, *, add_special: bool = True) -> list[int]:
        raise UnsupportedOperationError("Bedrock exposes no tokenizer",
                                        hint="usage comes back with each answer")

    def detokenize(self, tokens: Sequence[int]) -> str:
        raise UnsupportedOperationError("Bedrock exposes no tokenizer; send text instead")

    def prompt_tokens(self, request: GenerateRequest) -> list[int]:
        raise UnsupportedOperationError("Bedrock exposes no tokenizer",
                                        hint="usage comes back with each answer")

    def token_logprobs(self, tokens: Sequence[int], *, top: int = 0) -> list[TokenLogprob]:
        raise UnsupportedOperationError("Bedrock does not score given tokens")

    def logits(self, tokens: Sequence[int], *, first: int = 0):
        require(self, "logits")
        raise AssertionError("unreachable")

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        require(self, "embed", hint="Bedrock embedding models are not wired as engines here")
        raise AssertionError("unreachable")

    def with_adapter(self, name: str, *, on_close: Callable[[], None] | None = None) -> Engine:
        require(self, "adapters", hint="use a custom model's own Bedrock model id instead")
        raise AssertionError("unreachable")

    def render_chat(self, messages: Sequence[ChatMessage], *, add_generation_prompt: bool = True,
                    tools: Sequence[dict] | None = None) -> str:
        """A ChatML rendering, for display and length estimates (Bedrock renders its own)."""
        self._check_open()
        return render_chat(messages, None, add_generation_prompt=add_generation_prompt,
                           tools=tools)

    def _check_open(self) -> None:
        if self._closed:
            raise EngineClosedError(f"Bedrock engine for {self.model_id} is closed")

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._client.close()

    def __enter__(self) -> BedrockEngine:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class BedrockStream:
    """Chunks of one answer. ``close()`` closes the HTTP response (cancels the request)."""

    def __init__(self, stream, events: Iterator[dict], request: GenerateRequest, t0: float,
                 deadline: float | None, what: str) -> None:
        self._stream, self._events, self._request = stream, events, request
        self._t0, self._deadline, self._what = t0, deadline, what
        self._cancelled = False
        self._gen = self._run()

    @classmethod
    def whole(cls, out: dict, request: GenerateRequest, t0: float) -> BedrockStream:
        """A stream over one whole Converse answer."""
        events = [{"contentBlockDelta": {"delta": {"text": wire.output_text(
            out.get("output") or {})}}}, {"messageStop": {"stopReason": out.get("stopReason")}},
            {"metadata": {"usage": out.get("usage")}}]
        return cls(None, iter(events), request, t0, None, "Bedrock")

    def __iter__(self) -> Iterator[Chunk]:
        return self

    def __next__(self) -> Chunk:
        return next(self._gen)

    def close(self) -> None:
        """Cancel: the HTTP response is closed; idempotent."""
        self._cancelled = True
        if self._stream is not None:
            try:
                self._stream.close()
            except Exception:  # noqa: BLE001 - closing mid-read from another thread
                pass
        try:
            self._gen.close()
        except ValueError:  # running on another thread, which stops at its next read
            pass

    def __enter__(self) -> BedrockStream:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _run(self):
        stop, blocks, t_first, finish = StopMatcher(self._request.stop), wire.Blocks(), 0.0, None
        try:
            for event in self._events:
                text = blocks.event(event)
                if text:
                    t_first = t_first or time.perf_counter()
                    safe, stopped = stop.push(text)
                    if safe:
                        yield Chunk(safe)
                    if stopped:
                        finish = "stop"
                        break
                if self._deadline is not None and time.perf_counter() >= self._deadline:
                    finish = "timeout"
                    break
        except Exception as exc:  # noqa: BLE001 - a service error mid-answer
            if self._cancelled:
                return
            err = translate(exc, self._what)
            if err is None:
                raise
            raise AwsError(f"{err.message} (mid-answer)", aws_code=err.aws_code,
                           hint=err.hint) from None
        finally:
            if self._stream is not None:
                self._stream.close()
        tail = "" if stop.stopped else stop.flush()
        finish = finish or wire.finish_reason(blocks.stop_reason)
        yield Chunk(tail, finish_reason=finish, usage=self._usage(blocks.usage, t_first))

    def _usage(self, usage: dict | None, t_first: float) -> Usage:
        u, now = wire.usage_of(usage), time.perf_counter()
        t_first = t_first or now
        u.prompt_seconds, u.decode_seconds = t_first - self._t0, now - t_first
        return u
