"""A ``core.Engine`` over any OpenAI-compatible server: vLLM, llama-server, our own
``slm serve``, a cloud API or a company gateway.

Generation streams (SSE) straight into :class:`Chunk`\\ s. ``generate`` sends the request
and waits for the response status before returning, so a refused, failing or unreachable
upstream raises there (after the allowed retries), before any chunk — callers can fall
back cleanly. The API key is held privately: it is never logged, printed or put into an
error message.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from slmkit.core.engine import Capabilities, Engine, EngineStats, ModelInfo, require
from slmkit.core.errors import ContextOverflowError, EngineClosedError, UnsupportedOperationError
from slmkit.core.types import ChatMessage, Chunk, GenerateRequest, TokenLogprob, Usage
from slmkit.runtime.chat_template import render_chat
from slmkit.runtime.remote.protocol import Tally, build_body, parse_event, prompt_text, sse_events
from slmkit.runtime.remote.transport import RetryPolicy, UpstreamError, open_stream
from slmkit.runtime.textstream import StopMatcher

BYTES_PER_TOKEN = 4  # the estimate used for the context check when no tokenizer is given


def resolve_api_key(api_key: str | None = None, *, env: str | None = None,
                    file: str | os.PathLike | None = None) -> str | None:
    """The key to send: given > environment (``env``, else SLM_REMOTE_API_KEY /
    OPENAI_API_KEY) > ``file`` > config.toml (``remote.api_key``, or the setting that reads
    ``env``). None when there is none (local upstreams need none)."""
    from slmkit.settings import effective, env_or_setting

    if api_key:
        return api_key
    if env:
        value, origin = env_or_setting(env)
    else:
        item = next(e for e in effective() if e.name == "remote_api_key")
        value, origin = item.value, item.origin
    if value and origin.startswith("env:"):
        return value
    if file:
        return Path(file).expanduser().read_text(encoding="utf-8").strip() or None
    return value


def normalize_base_url(url: str) -> str:
    """``http://host:8000`` → ``http://host:8000/v1``; a URL with a path is kept as given."""
    url = url.rstrip("/")
    return url + "/v1" if urlsplit(url).path in ("", "/") else url


class RemoteEngine:
    """``core.Engine`` over an OpenAI-compatible HTTP API. Thread-safe.

    ``n_ctx`` is the upstream's context window when known (0 = unknown: not checked);
    ``tokenizer`` (text → ids) makes that check exact, otherwise it estimates
    ``UTF-8 bytes / 4``. ``timeout`` bounds each wait for bytes; ``connect_timeout`` the
    connection; ``retry`` says what is retried and how long to back off.
    """

    def __init__(self, base_url: str, *, model: str, name: str | None = None,
                 api_key: str | None = None, api_key_env: str | None = None,
                 api_key_file: str | None = None, n_ctx: int = 0,
                 tokenizer: Callable[[str], Sequence[int]] | None = None,
                 timeout: float = 60.0, connect_timeout: float = 5.0,
                 retry: RetryPolicy | None = None, max_concurrency: int = 16,
                 embed_model: str | None = None, headers: dict[str, str] | None = None) -> None:
        if not model:
            raise ValueError("a remote engine needs the upstream's model name (model=...)")
        self.base_url, self.model = normalize_base_url(base_url), model
        self._headers = {"Accept": "text/event-stream", **(headers or {})}
        key = resolve_api_key(api_key, env=api_key_env, file=api_key_file)
        if key:
            self._headers["Authorization"] = f"Bearer {key}"
        self._tokenizer, self.embed_model = tokenizer, embed_model
        self.retry = retry or RetryPolicy()
        self.timeout = httpx.Timeout(timeout, connect=connect_timeout)
        limits = httpx.Limits(max_connections=max_concurrency,
                              max_keepalive_connections=max_concurrency)
        self._client = httpx.Client(timeout=self.timeout, limits=limits)
        self._closed = False
        self.info = ModelInfo(
            name=name or model, path=self.base_url, architecture="remote", n_ctx=n_ctx,
            capabilities=Capabilities(logprobs=True, embed=bool(embed_model),
                                      max_sequences=max_concurrency))

    n_threads = 0  # the upstream computes

    def stats(self) -> EngineStats:
        """Empty: the upstream schedules the requests."""
        return {}

    def __repr__(self) -> str:  # no key, no headers
        return f"RemoteEngine({self.base_url!r}, model={self.model!r})"

    # ---- generation ------------------------------------------------------------------
    def generate(self, request: GenerateRequest) -> RemoteStream:
        """Validate, check the context, send; returns the chunk stream once the upstream
        has answered with a success status. Raises ``UpstreamError`` otherwise."""
        self._check_open()
        request.validate()
        self.check_context(request)
        path, body = build_body(request, self.upstream_model(request))
        t0 = time.perf_counter()
        deadline = t0 + request.timeout if request.timeout else None
        timeout = self.timeout
        if request.timeout:
            timeout = httpx.Timeout(min(self.timeout.read or request.timeout, request.timeout),
                                    connect=self.timeout.connect)
        response = open_stream(self._client, self.base_url + path, body, headers=self._headers,
                               timeout=timeout, policy=self.retry, where=self.base_url,
                               deadline=deadline)
        return RemoteStream(response, request, t0, deadline, self.base_url)

    def upstream_model(self, request: GenerateRequest) -> str:
        """The upstream model name a request is sent to (a subclass may pick per request)."""
        return self.model

    def check_context(self, request: GenerateRequest) -> None:
        """Raise ``ContextOverflowError`` for a prompt that cannot fit the known context."""
        n_ctx = self.info.n_ctx
        if not n_ctx:
            return
        text = prompt_text(request)
        if self._tokenizer is not None:
            n_prompt = len(self._tokenizer(text)) + 4 * len(request.messages or ())
            needed = n_prompt + (request.max_tokens or 0)
        else:
            n_prompt = needed = len(text.encode("utf-8")) // BYTES_PER_TOKEN
        if needed > n_ctx:
            raise ContextOverflowError(n_prompt, n_ctx, max_tokens=request.max_tokens or 0)

    # ---- the rest of the Engine contract ---------------------------------------------------
    def tokenize(self, text: str, *, add_special: bool = True) -> list[int]:
        if self._tokenizer is None:
            raise UnsupportedOperationError("the remote engine has no tokenizer; pass tokenizer=")
        return list(self._tokenizer(text))

    def detokenize(self, tokens: Sequence[int]) -> str:
        raise UnsupportedOperationError("a remote engine cannot detokenize; send text instead")

    def prompt_tokens(self, request: GenerateRequest) -> list[int]:
        """The prompt's ids by the ``tokenizer`` given (messages as their text; the
        upstream renders its own template)."""
        if request.prompt_tokens is not None:
            return list(request.prompt_tokens)
        return self.tokenize(prompt_text(request))

    def token_logprobs(self, tokens: Sequence[int], *, top: int = 0) -> list[TokenLogprob]:
        raise UnsupportedOperationError("OpenAI-compatible APIs do not score given tokens; "
                                        "use GenerateRequest.logprobs on generated text")

    def logits(self, tokens: Sequence[int], *, first: int = 0):
        require(self, "logits")  # never declared: OpenAI-compatible APIs return no logits
        raise AssertionError("unreachable")

    def with_adapter(self, name: str, *, on_close: Callable[[], None] | None = None) -> Engine:
        require(self, "adapters", hint="name the adapter's model on the upstream instead")
        raise AssertionError("unreachable")

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Vectors from the upstream's /embeddings with ``embed_model``."""
        self._check_open()
        if not self.embed_model:
            raise UnsupportedOperationError("no embed_model configured for this remote engine")
        response = self._client.post(self.base_url + "/embeddings", headers=self._headers,
                                     json={"model": self.embed_model, "input": list(texts)})
        if response.status_code >= 400:
            status = response.status_code
            raise UpstreamError(f"upstream {self.base_url} answered HTTP {status} to /embeddings",
                                status=status)
        rows = sorted(response.json()["data"], key=lambda d: d.get("index", 0))
        return [list(map(float, r["embedding"])) for r in rows]

    def render_chat(self, messages: Sequence[ChatMessage], *, add_generation_prompt: bool = True,
                    tools: Sequence[dict] | None = None) -> str:
        """A ChatML rendering (for display and length estimates; the upstream renders its own)."""
        self._check_open()
        return render_chat(messages, None, add_generation_prompt=add_generation_prompt,
                           tools=tools)

    def _check_open(self) -> None:
        if self._closed:
            raise EngineClosedError(f"remote engine for {self.info.name} is closed")

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._client.close()

    def __enter__(self) -> RemoteEngine:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _shutdown_socket(response: httpx.Response) -> None:
    """Shut the connection's socket down; closing alone does not end a blocked ``recv``."""
    stream = response.extensions.get("network_stream")
    sock = stream.get_extra_info("socket") if stream is not None else None
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class RemoteStream:
    """Chunks of one streamed answer. Closing it closes the HTTP response (cancels)."""

    def __init__(self, response: httpx.Response, request: GenerateRequest, t0: float,
                 deadline: float | None, where: str) -> None:
        self._response, self._request, self._where = response, request, where
        self._t0, self._deadline = t0, deadline
        self._cancelled = False
        self._gen = self._run()

    def __iter__(self) -> Iterator[Chunk]:
        return self

    def __next__(self) -> Chunk:
        return next(self._gen)

    def close(self) -> None:
        """Cancel (any thread): the response is closed at once; a read blocked on another
        thread ends there."""
        if self._response.is_closed:  # finished: its connection may be back in the pool
            return
        self._cancelled = True
        _shutdown_socket(self._response)  # wakes a read blocked on another thread
        try:
            self._response.close()
        except Exception:  # noqa: BLE001 - closing from another thread mid-read
            pass
        try:
            self._gen.close()
        except ValueError:  # running on another thread, which now stops at its read
            pass

    def __enter__(self) -> RemoteStream:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass

    def _run(self):
        stop, tally, t_first = StopMatcher(self._request.stop), Tally(), 0.0
        try:
            for event in sse_events(self._response.iter_lines()):
                if event is None:
                    tally.done = True
                    break
                delta = parse_event(event)
                if delta.error:
                    raise UpstreamError(f"upstream {self._where} failed mid-answer: "
                                        f"{delta.error.get('message', delta.error)}")
                tally.usage = delta.usage or tally.usage
                if delta.finish_reason:
                    tally.finish_reason, tally.done = delta.finish_reason, True
                if delta.text or delta.logprobs:
                    t_first = t_first or time.perf_counter()
                    tally.pieces += 1
                    text, stopped = stop.push(delta.text)
                    if text or delta.logprobs:
                        yield Chunk(text, logprobs=delta.logprobs)
                    if stopped:
                        tally.finish_reason, tally.done = "stop", True
                        break
                if self._past_deadline(0.0):
                    tally.finish_reason, tally.done = "timeout", True
                    break
        except httpx.TimeoutException:
            if self._cancelled:
                return
            if not self._past_deadline():
                raise UpstreamError(f"upstream {self._where} stopped sending mid-answer "
                                    "(read timeout)") from None
            tally.finish_reason, tally.done = "timeout", True  # the request's own time limit
        except (httpx.HTTPError, httpx.StreamError) as exc:
            if self._cancelled:
                return
            raise UpstreamError(f"connection to upstream {self._where} lost mid-answer: "
                                f"{type(exc).__name__}") from None
        finally:
            self._response.close()
        if not tally.done:
            raise UpstreamError(f"upstream {self._where} ended the stream without finishing")
        tail = "" if stop.stopped else stop.flush()
        yield Chunk(tail, finish_reason=tally.finish_reason or "stop",
                    usage=self._usage(tally, t_first))

    def _past_deadline(self, slack: float = 0.05) -> bool:
        return self._deadline is not None and time.perf_counter() >= self._deadline - slack

    def _usage(self, tally: Tally, t_first: float) -> Usage:
        now, u = time.perf_counter(), tally.usage
        t_first = t_first or now
        return Usage(prompt_tokens=int(u.get("prompt_tokens", 0)),
                     completion_tokens=int(u.get("completion_tokens", tally.pieces)),
                     prompt_seconds=t_first - self._t0, decode_seconds=now - t_first)
