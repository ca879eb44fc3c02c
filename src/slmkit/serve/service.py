"""The service: protocol requests → ``core.GenerateRequest``, and running them on an Engine.

Routes call :class:`Service` with pydantic objects from ``protocol_openai`` /
``protocol_ollama``; the service picks the model (through the registry), applies its
prompt defaults, admits the request (bounded queue), starts a :class:`Generation` and
hands back chunks. Nothing here knows about HTTP.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import anyio

from slmkit.core.errors import UnsupportedOperationError
from slmkit.core.types import ChatMessage, GenerateRequest, SamplingParams, TokenLogprob, Usage
from slmkit.serve import limits
from slmkit.serve import protocol_ollama as ol
from slmkit.serve import protocol_openai as oa
from slmkit.serve import tools as toolkit
from slmkit.serve.metrics import Metrics
from slmkit.serve.registry import LoadedModel, ModelDefaults, Registry
from slmkit.serve.stream import Generation


@dataclass
class Result:
    """A whole answer, gathered from a generation."""

    text: str
    finish_reason: str | None
    usage: Usage
    logprobs: list[TokenLogprob] | None
    seconds: float


class Service:
    def __init__(self, registry: Registry, metrics: Metrics, *,
                 request_timeout: float | None = None) -> None:
        self.registry, self.metrics = registry, metrics
        self.request_timeout = request_timeout

    # ---- models ----------------------------------------------------------------------------
    async def acquire(self, name: str) -> LoadedModel:
        """The loaded model (loaded on first use, in a worker thread); pair with release."""
        return await anyio.to_thread.run_sync(self.registry.acquire, name)

    async def release(self, model: LoadedModel, keep_alive: float | None = None) -> None:
        await anyio.to_thread.run_sync(lambda: self.registry.release(model,
                                                                     keep_alive=keep_alive))

    # ---- generation ------------------------------------------------------------------------
    async def start(self, name: str, build: Callable[[LoadedModel], GenerateRequest], *,
                    keep_alive: float | None = None,
                    log: dict | None = None) -> tuple[LoadedModel, Generation]:
        """Load/pick the model, build the request with its defaults, admit and start it.
        Raises what ``generate`` raises (bad request, context overflow, queue full) before
        anything is sent. The model is released when the generation ends."""
        model = await self.acquire(name)
        try:
            request = build(model)
            if request.timeout is None and self.request_timeout:
                request.timeout = self.request_timeout
            model.admit()
        except BaseException:
            await self.release(model, keep_alive)
            raise
        if log is not None:
            log["model"] = model.name
        observer = self.metrics.observer(model.name)

        def on_done(was_running: bool) -> None:
            model.finished(was_running=was_running)
            self.registry.release(model, keep_alive=keep_alive)
            if log is not None:
                _log_usage(log, gen, observer)

        gen = _TrackedGeneration(model, request, observer, on_done)
        await gen.start()
        return model, gen

    async def collect(self, gen: Generation,
                      disconnected: Callable[[], Awaitable[Any]] | None = None) -> Result:
        """Drain a generation; cancel it if ``disconnected()`` returns first."""
        watcher = asyncio.ensure_future(_watch(disconnected, gen)) if disconnected else None
        parts: list[str] = []
        lps: list[TokenLogprob] | None = None
        last = None
        try:
            async for batch in gen.batches():
                for chunk in batch:
                    parts.append(chunk.text)
                    if chunk.logprobs is not None:
                        lps = (lps or []) + list(chunk.logprobs)
                    last = chunk
        finally:
            if watcher is not None:
                watcher.cancel()
            gen.cancel()  # no-op when finished
        usage = last.usage if last is not None and last.usage is not None else Usage()
        finish = last.finish_reason if last is not None else "cancelled"
        return Result("".join(parts), finish, usage, lps, time.perf_counter() - gen.t0)

    # ---- embeddings ------------------------------------------------------------------------
    async def embed(self, name: str, texts: Sequence[str], *, keep_alive: float | None = None,
                    log: dict | None = None) -> tuple[LoadedModel, list[list[float]], int]:
        """Vectors for ``texts`` and the number of tokens they had."""
        if not texts or any(not isinstance(t, str) for t in texts):
            raise ValueError("input must be a non-empty string or list of strings")
        model = await self.acquire(name)
        try:
            if log is not None:
                log["model"] = model.name
            if not model.info.capabilities.embed:
                raise UnsupportedOperationError(f"model {model.name!r} cannot compute embeddings")
            engine = model.engine

            def work():
                n = sum(len(engine.tokenize(t)) for t in texts)
                return engine.embed(list(texts)), n

            vectors, n_tokens = await anyio.to_thread.run_sync(work)
            self.metrics.prompt_tokens.labels(model.name).inc(n_tokens)
            return model, vectors, n_tokens
        finally:
            await self.release(model, keep_alive)


class _TrackedGeneration(Generation):
    """A generation that moves its model's waiting/running counters."""

    def __init__(self, model: LoadedModel, request, observer, on_done) -> None:
        self._model = model
        super().__init__(model.engine, request, _StartNotifier(observer, model), on_done)


class _StartNotifier:
    def __init__(self, observer, model: LoadedModel) -> None:
        self._observer, self._model = observer, model

    def first_token(self, seconds: float) -> None:
        self._model.started()
        self._observer.first_token(seconds)

    def token_gap(self, seconds: float) -> None:
        self._observer.token_gap(seconds)

    def done(self, last, error) -> None:
        self._observer.done(last, error)


async def _watch(disconnected: Callable[[], Awaitable[Any]], gen: Generation) -> None:
    await disconnected()
    gen.cancel()


def _log_usage(log: dict, gen: Generation, observer) -> None:
    last = gen.last
    if last is not None and last.usage is not None:
        log.update(prompt_tokens=last.usage.prompt_tokens,
                   completion_tokens=last.usage.completion_tokens,
                   cached_tokens=last.usage.cached_tokens)
        decision = last.usage.decision  # set when a routing engine answered
        if decision is not None:
            log.update(route=decision.route, route_reason=decision.reason)
    log["finish_reason"] = last.finish_reason if last is not None else "cancelled"
    if observer.ttft_seconds is not None:
        log["ttft_ms"] = round(observer.ttft_seconds * 1000, 1)


def shorten(vectors: list[list[float]], dimensions: int, model: str) -> list[list[float]]:
    """OpenAI's ``dimensions``: the first ``dimensions`` components of each vector,
    renormalized to unit length (a model's full vectors are unit length too)."""
    have = len(vectors[0]) if vectors else 0
    if dimensions > have:
        raise ValueError(f"dimensions is {dimensions}, but {model!r} makes {have}-dimensional "
                         f"vectors; ask for at most {have}")
    out = []
    for v in vectors:
        head = v[:dimensions]
        norm = sum(x * x for x in head) ** 0.5 or 1.0
        out.append([x / norm for x in head])
    return out


# ---- mapping: protocol → core ------------------------------------------------------------------
def sampling(defaults: ModelDefaults, seed: int | None = None, **given) -> SamplingParams:
    """One precedence rule (``SamplingParams.layered``): the request, then the model's
    defaults, then SamplingParams'. Seeds are reduced to 32 bits (what the backends take;
    -1 stays llama.cpp's "random")."""
    return SamplingParams.layered(given, defaults.sampling,
                                  None if seed is None else seed & 0xFFFFFFFF)


def with_system(messages: list[ChatMessage], defaults: ModelDefaults,
                extra: str | None = None) -> list[ChatMessage]:
    """Add the model's default system prompt when the chat has none; append ``extra``
    (tool instructions) to the system prompt."""
    if messages and messages[0].role == "system":
        if extra:
            first = messages[0]
            text = f"{first.content}\n\n{extra}" if first.content else extra
            return [dataclasses.replace(first, content=text), *messages[1:]]
        return messages
    system = defaults.system
    if extra:
        system = f"{system}\n\n{extra}" if system else extra
    return ([ChatMessage("system", system)] if system is not None else []) + messages


def response_schema(fmt) -> dict | None:
    """OpenAI ``response_format`` → ``json_schema`` (``{}`` means any JSON object)."""
    if fmt is None or fmt.type == "text":
        return None
    if fmt.type == "json_object":
        return {}
    if fmt.json_schema is None:
        raise ValueError("response_format json_schema needs a 'json_schema' object "
                         "with a 'schema'")
    return fmt.json_schema.schema_ or {}


def ollama_format(fmt: str | dict | None) -> dict | None:
    if fmt is None or fmt == "":
        return None
    if fmt == "json":
        return {}
    if isinstance(fmt, dict):
        return fmt
    raise ValueError(f"format must be 'json' or a JSON schema object, got {fmt!r}")


def openai_messages(messages: list[oa.Message]) -> list[ChatMessage]:
    out: list[ChatMessage] = []
    names: dict[str, str] = {}  # call id → function name, for the tool turns
    for m in messages:
        role = {"developer": "system", "function": "tool"}.get(m.role, m.role)
        calls = ()
        if m.role == "assistant" and m.tool_calls:
            calls = tuple(toolkit.tool_call(c.function.name, c.function.arguments, c.id or "")
                          for c in m.tool_calls)
            names.update((c.id, c.name) for c in calls if c.id)
        name = m.name or (names.get(m.tool_call_id) if m.tool_call_id else None)
        out.append(ChatMessage(role, m.text(), name=name, tool_calls=calls,
                               tool_call_id=m.tool_call_id))
    return out


def openai_tool_plan(req: oa.ChatCompletionRequest) -> toolkit.ToolPlan | None:
    if not req.tools:
        if req.tool_choice not in (None, "none", "auto"):
            raise ValueError("tool_choice is set but no tools were given")
        return None
    if req.response_format is not None and req.response_format.type != "text":
        raise ValueError("use either tools or response_format, not both")
    specs = [toolkit.ToolSpec(t.function.name, t.function.description or "",
                              t.function.parameters) for t in req.tools]
    choice = req.tool_choice
    if isinstance(choice, oa.NamedToolChoice):
        choice = choice.function.get("name")
    return toolkit.plan(specs, choice, parallel=req.parallel_tool_calls)


def with_tools(request: GenerateRequest, plan: toolkit.ToolPlan | None,
               model: LoadedModel) -> GenerateRequest:
    """``request`` (plain chat) with ``plan``'s tools: given to the chat template or
    described as system text, and the calls constrained where the engine has grammars."""
    if plan is None:
        return request
    plan = plan.for_template(model.info.chat_template)
    messages = with_system(list(request.messages), model.defaults, plan.instructions())
    constrain = model.info.capabilities.grammar
    return dataclasses.replace(request, messages=messages, tools=plan.definitions(),
                               tool_calls=plan.constraint if constrain else None)


def text_only(request: GenerateRequest, model: LoadedModel, *,
              results: bool) -> GenerateRequest:
    """Ask again, for a text answer: ``request`` answered with a call the chat already made
    and answered (``results``), or with a call to no known tool. A closing system turn
    says what to do; the answer may not start like a call."""
    hint = ("Answer the user's question from the tool results above, in plain text."
            if results else "No function fits: answer the user in plain text.")
    grammar = toolkit.TEXT_ONLY if model.info.capabilities.grammar else None
    return dataclasses.replace(request, messages=[*request.messages, ChatMessage("system", hint)],
                               tool_calls=None, grammar=grammar,
                               stop=(*request.stop, toolkit.OPEN))


def openai_chat(req: oa.ChatCompletionRequest, model: LoadedModel) -> GenerateRequest:
    """The chat request, without tools (see :func:`with_tools`)."""
    messages = with_system(openai_messages(req.messages), model.defaults)
    top = req.top_logprobs if req.top_logprobs is not None else 0
    return GenerateRequest(
        messages=messages, max_tokens=_first(req.max_completion_tokens, req.max_tokens),
        sampling=_openai_sampling(req, model.defaults), stop=tuple(req.stop or ()),
        logprobs=top if req.logprobs else None,
        json_schema=None if req.tools else response_schema(req.response_format))


def openai_completion(req: oa.CompletionRequest, model: LoadedModel) -> GenerateRequest:
    if req.echo:
        raise ValueError("echo is not supported")
    if req.suffix:
        raise ValueError("suffix (fill-in-the-middle) is not supported by this server")
    prompt, tokens = (req.prompt, None) if isinstance(req.prompt, str) else (None, req.prompt)
    return GenerateRequest(prompt=prompt, prompt_tokens=tokens, max_tokens=req.max_tokens,
                           sampling=_openai_sampling(req, model.defaults),
                           stop=tuple(req.stop or ()), logprobs=req.logprobs,
                           json_schema=response_schema(req.response_format))


def openai_infill_fields(req: oa.CompletionRequest, model: LoadedModel) -> dict[str, Any]:
    """``/v1/completions`` with ``suffix``: the prompt is the text before the cursor, the
    suffix the text after it (OpenAI's insert mode), for a ``core.apps.Infiller``."""
    if req.echo:
        raise ValueError("echo is not supported")
    if not isinstance(req.prompt, str):
        raise ValueError("prompt: must be text when suffix is given")
    return {"prefix": req.prompt, "suffix": req.suffix or "",
            "max_tokens": 16 if req.max_tokens is None else req.max_tokens,
            "stop": list(req.stop or ()), "sampling": _openai_sampling(req, model.defaults)}


def _openai_sampling(req, defaults: ModelDefaults) -> SamplingParams:
    return sampling(defaults, req.seed, temperature=req.temperature, top_p=req.top_p,
                    top_k=req.top_k, min_p=req.min_p, repeat_penalty=req.repeat_penalty,
                    frequency_penalty=req.frequency_penalty,
                    presence_penalty=req.presence_penalty)


def _first(*values):
    return next((v for v in values if v is not None), None)


def _ollama_common(req, model: LoadedModel) -> dict[str, Any]:
    o = req.options
    n = o.num_predict
    return {"max_tokens": None if n is None or n < 0 else n, "stop": tuple(o.stop or ()),
            "json_schema": ollama_format(req.format),
            "sampling": sampling(model.defaults, o.seed, temperature=o.temperature,
                                 top_p=o.top_p, top_k=o.top_k, min_p=o.min_p,
                                 repeat_penalty=o.repeat_penalty,
                                 frequency_penalty=o.frequency_penalty,
                                 presence_penalty=o.presence_penalty,
                                 repeat_last_n=limits.clamp_context(o.repeat_last_n,
                                                                    model.info.n_ctx))}


def ollama_generate(req: ol.GenerateRequest, model: LoadedModel) -> GenerateRequest:
    if req.images:
        raise ValueError("images are not supported (this server is text-only)")
    common = _ollama_common(req, model)
    if req.raw:
        return GenerateRequest(prompt=req.prompt, **common)
    system = req.system if req.system is not None else model.defaults.system
    messages = ([ChatMessage("system", system)] if system is not None else [])
    return GenerateRequest(messages=messages + [ChatMessage("user", req.prompt)], **common)


def ollama_tool_plan(req: ol.ChatRequest) -> toolkit.ToolPlan | None:
    if not req.tools:
        return None
    specs = []
    for t in req.tools:
        fn = t.get("function") if isinstance(t, dict) else None
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
            raise ValueError(  # noqa: TRY004 - answered as a 400
                "each tool needs {'type': 'function', 'function': {'name': ...}}")
        specs.append(toolkit.ToolSpec(fn["name"], fn.get("description") or "",
                                      fn.get("parameters") or {"type": "object"}))
    return toolkit.plan(specs, "auto")


def ollama_chat(req: ol.ChatRequest, model: LoadedModel) -> GenerateRequest:
    """The chat request, without tools (see :func:`with_tools`)."""
    messages = []
    for m in req.messages:
        if m.images:
            raise ValueError("images are not supported (this server is text-only)")
        calls = tuple(toolkit.tool_call(c.function.name, c.function.arguments)
                      for c in m.tool_calls or ())
        name = m.tool_name if m.role == "tool" else None
        messages.append(ChatMessage(m.role, m.content, name=name, tool_calls=calls))
    common = _ollama_common(req, model)
    if req.tools:
        common["json_schema"] = None
    return GenerateRequest(messages=with_system(messages, model.defaults), **common)
