"""A ``core.Engine`` over a SageMaker real-time endpoint (boto3 ``sagemaker-runtime``).

The endpoint is sent an OpenAI chat/completion body (what slmkit's own exported container,
vLLM and LMI containers take); answers stream through ``invoke_endpoint_with_response_stream``
(or come whole from ``invoke_endpoint`` with ``streaming=False``). Throttling is retried
with backoff and jitter; credentials come from the AWS chain only.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator, Sequence

from slmkit.core.engine import Capabilities, Engine, EngineStats, ModelInfo, require
from slmkit.core.errors import EngineClosedError, UnsupportedOperationError
from slmkit.core.types import ChatMessage, Chunk, GenerateRequest, TokenLogprob, Usage
from slmkit.runtime.awsclient import AwsError, AwsRetry, make_client, translate, with_retry
from slmkit.runtime.chat_template import render_chat
from slmkit.runtime.remote.protocol import build_body
from slmkit.runtime.sagemaker.lines import DONE, LineBuffer, delta_of, payloads, whole_text
from slmkit.runtime.textstream import StopMatcher


class SageMakerEngine:
    """``core.Engine`` for one SageMaker endpoint. Thread-safe.

    ``model`` is the name put in the body (None: none; slmkit's container then answers
    with the model it serves); ``variant``/``component`` pick a production variant or an
    inference component; ``retry`` bounds the retries of throttling.
    """

    def __init__(self, endpoint: str, *, model: str | None = None, region: str | None = None,
                 profile: str | None = None, endpoint_url: str | None = None, session=None,
                 name: str | None = None, n_ctx: int = 0, timeout: float = 60.0,
                 connect_timeout: float = 5.0, retry: AwsRetry | None = None,
                 streaming: bool = True, variant: str | None = None,
                 component: str | None = None, max_concurrency: int = 16,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if not endpoint:
            raise ValueError("a SageMaker engine needs an endpoint name")
        self.endpoint, self.model, self.streaming = endpoint, model, streaming
        self.retry = retry or AwsRetry()
        self._client = make_client("sagemaker-runtime", region=region, profile=profile,
                                   endpoint_url=endpoint_url, session=session, timeout=timeout,
                                   connect_timeout=connect_timeout, max_pool=max_concurrency)
        self.region = self._client.meta.region_name
        self._target = {k: v for k, v in (("TargetVariant", variant),
                                          ("InferenceComponentName", component)) if v}
        self._sleep, self._closed, self._lock = sleep, False, threading.Lock()
        self.retries = 0
        self.info = ModelInfo(
            name=name or f"sagemaker:{endpoint}", path=f"sagemaker://{self.region}/{endpoint}",
            architecture="sagemaker", n_ctx=n_ctx,
            capabilities=Capabilities(logprobs=False, max_sequences=max_concurrency))

    n_threads = 0

    def __repr__(self) -> str:
        return f"SageMakerEngine({self.endpoint!r}, region={self.region!r})"

    def stats(self) -> EngineStats:
        return {}

    def generate(self, request: GenerateRequest) -> SageMakerStream:
        """Validate, invoke, wait for the first part (retrying throttling); then stream."""
        self._check_open()
        request.validate()
        if request.logprobs is not None or request.prompt_tokens is not None:
            raise UnsupportedOperationError("the SageMaker engine sends text and returns no "
                                            "log-probabilities", hint="use a local model")
        _, body = build_body(request, self.model or "")
        if not self.model:
            body.pop("model")
        if not self.streaming:
            body.pop("stream_options")
            body["stream"] = False
        args = dict(EndpointName=self.endpoint, Body=json.dumps(body).encode(),
                    ContentType="application/json", Accept="application/json", **self._target)
        t0 = time.perf_counter()
        deadline = t0 + request.timeout if request.timeout else None
        what = f"SageMaker endpoint {self.endpoint} in {self.region}"
        if not self.streaming:
            out = self._call(lambda: self._client.invoke_endpoint(**args)["Body"].read(),
                             what, deadline)
            return SageMakerStream.whole(out, request, t0)

        def start():
            stream = self._client.invoke_endpoint_with_response_stream(**args)["Body"]
            events = iter(stream)
            try:
                first = next(events, None)
            except BaseException:
                stream.close()
                raise
            return stream, itertools.chain([first] if first else [], events)

        stream, events = self._call(start, what, deadline)
        return SageMakerStream(stream, events, request, t0, deadline, what)

    def _call(self, fn, what: str, deadline: float | None):
        return with_retry(fn, what=what, policy=self.retry, on_retry=self._count_retry,
                          deadline=deadline, sleep=self._sleep)

    def _count_retry(self, err: AwsError, wait: float) -> None:
        with self._lock:
            self.retries += 1

    def tokenize(self, text: str, *, add_special: bool = True) -> list[int]:
        raise UnsupportedOperationError("a SageMaker endpoint exposes no tokenizer")

    def detokenize(self, tokens: Sequence[int]) -> str:
        raise UnsupportedOperationError("a SageMaker endpoint exposes no tokenizer")

    def prompt_tokens(self, request: GenerateRequest) -> list[int]:
        raise UnsupportedOperationError("a SageMaker endpoint exposes no tokenizer")

    def token_logprobs(self, tokens: Sequence[int], *, top: int = 0) -> list[TokenLogprob]:
        raise UnsupportedOperationError("a SageMaker endpoint does not score given tokens")

    def logits(self, tokens: Sequence[int], *, first: int = 0):
        require(self, "logits")
        raise AssertionError("unreachable")

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        require(self, "embed")
        raise AssertionError("unreachable")

    def with_adapter(self, name: str, *, on_close: Callable[[], None] | None = None) -> Engine:
        require(self, "adapters", hint="deploy the adapter as an inference component")
        raise AssertionError("unreachable")

    def render_chat(self, messages: Sequence[ChatMessage], *, add_generation_prompt: bool = True,
                    tools: Sequence[dict] | None = None) -> str:
        """A ChatML rendering, for display (the endpoint renders its own)."""
        self._check_open()
        return render_chat(messages, None, add_generation_prompt=add_generation_prompt,
                           tools=tools)

    def _check_open(self) -> None:
        if self._closed:
            raise EngineClosedError(f"SageMaker engine for {self.endpoint} is closed")

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._client.close()

    def __enter__(self) -> SageMakerEngine:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class SageMakerStream:
    """Chunks of one answer from the endpoint's PayloadPart events."""

    def __init__(self, stream, events: Iterator[dict], request: GenerateRequest, t0: float,
                 deadline: float | None, what: str) -> None:
        self._stream, self._events, self._request = stream, events, request
        self._t0, self._deadline, self._what = t0, deadline, what
        self._cancelled = False
        self._gen = self._run()

    @classmethod
    def whole(cls, data: bytes, request: GenerateRequest, t0: float) -> SageMakerStream:
        """A stream over a whole (non-streamed) answer."""
        text, finish, usage = whole_text(data)
        line = json.dumps({"choices": [{"delta": {"content": text}, "finish_reason": finish}],
                           "usage": usage or None}).encode() + b"\n"
        return cls(None, iter([{"PayloadPart": {"Bytes": line}}]), request, t0, None,
                   "SageMaker")

    def __iter__(self) -> Iterator[Chunk]:
        return self

    def __next__(self) -> Chunk:
        return next(self._gen)

    def close(self) -> None:
        self._cancelled = True
        if self._stream is not None:
            try:
                self._stream.close()
            except Exception:  # noqa: BLE001 - closing mid-read from another thread
                pass
        try:
            self._gen.close()
        except ValueError:
            pass

    def _objects(self) -> Iterator[dict | object]:
        lines = LineBuffer()
        for event in self._events:
            part = event.get("PayloadPart")
            if part is not None:
                yield from payloads(lines.push(part.get("Bytes") or b""))
        yield from payloads(lines.flush())

    def _run(self):
        stop, t_first, finish, usage, pieces = StopMatcher(self._request.stop), 0.0, None, {}, 0
        try:
            for obj in self._objects():
                if obj is DONE:
                    break
                delta = delta_of(obj)
                if delta.error:
                    raise AwsError(f"{self._what} failed mid-answer: "
                                   f"{delta.error.get('message', delta.error)}")
                usage = delta.usage or usage
                finish = delta.finish_reason or finish
                if delta.text:
                    t_first, pieces = t_first or time.perf_counter(), pieces + 1
                    safe, stopped = stop.push(delta.text)
                    if safe:
                        yield Chunk(safe)
                    if stopped:
                        finish = "stop"
                        break
                if self._deadline is not None and time.perf_counter() >= self._deadline:
                    finish = "timeout"
                    break
        except AwsError:
            raise
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
        now = time.perf_counter()
        t_first = t_first or now
        tail = "" if stop.stopped else stop.flush()
        yield Chunk(tail, finish_reason=finish or "stop", usage=Usage(
            prompt_tokens=int(usage.get("prompt_tokens", 0)),
            completion_tokens=int(usage.get("completion_tokens", pieces)),
            prompt_seconds=t_first - self._t0, decode_seconds=now - t_first))
