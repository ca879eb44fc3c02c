"""A ``core.Engine`` over a Ray Serve deployment handle, and the loader that serves such
engines by name.

The model replicas (:class:`slmkit.scale.ray_serve.ModelReplica`) each hold one real engine
(llama.cpp with its own continuous batching); the HTTP app talks to them only through
:class:`HandleEngine`, so routing, the guard and RAG wrap it like any local engine. Calls
happen on worker threads of the app (never its event loop), where handle results may be
waited for synchronously.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from slmkit.core.engine import EngineStats, ModelInfo
from slmkit.core.errors import EngineClosedError, ModelNotFoundError, SlmError
from slmkit.core.types import ChatMessage, Chunk, GenerateRequest, TokenLogprob


class ReplicaLostError(SlmError):
    """The Ray replica serving a request died or became unreachable (HTTP 503); Ray Serve
    starts a new one, so a retry normally succeeds."""

    code = "replica_lost"

    def __init__(self, message: str = "the model replica serving this request was lost",
                 *, hint: str | None = "retry: Ray Serve replaces a lost replica") -> None:
        super().__init__(message, hint=hint)


class RemoteError(Exception):
    """An exception raised in a replica, carried as plain data (slmkit's errors take other
    constructor arguments than their ``args``, which Ray's pickling cannot rebuild)."""

    def __init__(self, module: str, name: str, args: tuple, state: dict) -> None:
        super().__init__(module, name, args, state)

    @classmethod
    def pack(cls, err: BaseException) -> RemoteError:
        """``err`` as data; what cannot be pickled becomes text."""
        import pickle

        state = dict(getattr(err, "__dict__", {}))
        try:
            pickle.dumps((err.args, state))
        except Exception:  # noqa: BLE001 - unpicklable details: keep the message
            state, err_args = {}, (str(err),)
        else:
            err_args = err.args
        return cls(type(err).__module__, type(err).__qualname__, err_args, state)

    def restore(self) -> BaseException:
        """The original exception (type, args and attributes), or a ``RuntimeError``."""
        import importlib

        module, name, args, state = self.args
        try:
            kind = getattr(importlib.import_module(module), name)
            err = kind.__new__(kind)
            BaseException.__init__(err, *args)
            err.__dict__.update(state)
            return err
        except Exception:  # noqa: BLE001 - an exception type this process cannot import
            return RuntimeError(f"{module}.{name}: {args[0] if args else ''}")


def _lost(err: BaseException) -> bool:
    from ray import exceptions as rex

    lost = (rex.RayActorError, rex.ActorDiedError, rex.ActorUnavailableError,
            rex.WorkerCrashedError, rex.NodeDiedError, rex.TaskCancelledError)
    return isinstance(err, lost)


def unwrap(err: BaseException) -> BaseException:
    """What the replica raised (Ray's ``RayTaskError`` carries it as ``cause``), or a
    :class:`ReplicaLostError` for a replica that died."""
    from ray.exceptions import RayTaskError

    if _lost(err):
        return ReplicaLostError()
    cause = err.cause if isinstance(err, RayTaskError) else err
    if isinstance(cause, RemoteError):
        return cause.restore()
    return cause if isinstance(cause, BaseException) else err


class HandleStream:
    """The chunks of one remote ``generate`` (a ``DeploymentResponseGenerator``).
    ``close()`` cancels the remote request; it may be called from any thread."""

    def __init__(self, response: Any) -> None:
        self._response, self._done = response, False
        self._first: Chunk | None = None
        self._lock = threading.Lock()

    def prefetch(self) -> HandleStream:
        """Wait for the first chunk, so that a rejected request raises from ``generate``
        (the contract: validation errors come before the stream)."""
        self._first = self._next()
        return self

    def _next(self) -> Chunk:
        try:
            return next(self._response)
        except StopIteration:
            self._done = True
            raise
        except BaseException as err:  # noqa: BLE001 - re-raised as the replica's error
            self.close()
            raise unwrap(err) from None

    def __iter__(self) -> HandleStream:
        return self

    def __next__(self) -> Chunk:
        if self._done:
            raise StopIteration
        if self._first is not None:
            chunk, self._first = self._first, None
            return chunk
        return self._next()

    def close(self) -> None:
        with self._lock:
            if not self._done:
                self._done = True
                self._response.cancel()


class HandleEngine:
    """``core.Engine`` whose calls go to a Ray Serve model deployment (any replica).
    ``slots`` is what all replicas decode at once (the server's admission limit)."""

    def __init__(self, handle: Any, info: ModelInfo, *, replicas: int = 1) -> None:
        self.handle = handle
        per = max(1, info.capabilities.max_sequences)
        self.info = replace(info, capabilities=replace(info.capabilities,
                                                       max_sequences=per * max(1, replicas)))
        self.n_threads = 0  # computed in the replicas
        self._closed = False

    def _call(self, method: Any, *args: Any, **kwargs: Any) -> Any:
        """``method`` (a deployment method of :attr:`handle`) run on a replica."""
        if self._closed:
            raise EngineClosedError(f"{self.info.name} is closed")
        try:
            return method.remote(*args, **kwargs).result()
        except BaseException as err:  # noqa: BLE001
            raise unwrap(err) from None

    def generate(self, request: GenerateRequest) -> HandleStream:
        """Start ``request`` on a replica; returns once its first chunk arrived."""
        if self._closed:
            raise EngineClosedError(f"{self.info.name} is closed")
        response = self.handle.options(stream=True).generate.remote(request)
        return HandleStream(response).prefetch()

    def tokenize(self, text: str, *, add_special: bool = True) -> list[int]:
        return self._call(self.handle.tokenize, text, add_special=add_special)

    def detokenize(self, tokens: Sequence[int]) -> str:
        return self._call(self.handle.detokenize, list(tokens))

    def prompt_tokens(self, request: GenerateRequest) -> list[int]:
        return self._call(self.handle.prompt_tokens, request)

    def token_logprobs(self, tokens: Sequence[int], *, top: int = 0) -> list[TokenLogprob]:
        return self._call(self.handle.token_logprobs, list(tokens), top=top)

    def logits(self, tokens: Sequence[int], *, first: int = 0) -> Any:
        return self._call(self.handle.logits, list(tokens), first=first)

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return self._call(self.handle.embed, list(texts))

    def with_adapter(self, name: str, *, on_close: Callable[[], None] | None = None):
        from slmkit.core.errors import UnsupportedOperationError

        raise UnsupportedOperationError(
            "LoRA adapters are not served through Ray replicas",
            hint="serve adapters with plain `slm serve --adapter`")

    def render_chat(self, messages: Sequence[ChatMessage], *, add_generation_prompt: bool = True,
                    tools: Sequence[dict] | None = None) -> str:
        return self._call(self.handle.render_chat, list(messages),
                          add_generation_prompt=add_generation_prompt,
                          tools=list(tools) if tools else None)

    def stats(self) -> EngineStats:
        return {}  # the server counts requests itself; each replica schedules its own

    def close(self) -> None:
        self._closed = True  # the deployment's lifetime belongs to Ray Serve


class HandleLoader:
    """The registry's loader over model deployments: ``models`` maps a served name to
    ``(handle, replicas)``; ``aliases`` maps other accepted names (as given on the command
    line) to served names; ``canonical(name)`` (optional) names the stored model another
    name means (a catalog alias), or None. Only these models are served (no loading on
    demand)."""

    def __init__(self, models: dict[str, tuple[Any, int]],
                 aliases: dict[str, str] | None = None,
                 canonical: Callable[[str], str | None] | None = None) -> None:
        self.models, self.aliases = models, dict(aliases or {})
        self.canonical = canonical
        self.adapters = None  # set by the CLI's composition; adapters are not served here
        self.registry = None
        self._described: dict[str, tuple] = {}

    def _describe(self, name: str) -> tuple:
        if name not in self._described:
            handle = self.models[name][0]
            try:
                self._described[name] = handle.describe.remote().result()
            except BaseException as err:  # noqa: BLE001
                raise unwrap(err) from None
        return self._described[name]

    def resolve(self, name: str | None, **_: Any):
        from slmkit.serve.registry import ModelSpec

        served = self.aliases.get(name or "", name or "")
        if served not in self.models and self.canonical is not None and name:
            served = self.canonical(name) or served
        if served not in self.models:
            raise ModelNotFoundError(name or "", suggestions=sorted(self.models),
                                     hint="this Ray-served app serves only the models "
                                          "named at start")
        return ModelSpec(served, 0)

    def load(self, spec):
        from slmkit.serve.registry import LoadResult

        if self.adapters is not None:
            raise SlmError("--adapter is not supported with --ray",
                           hint="serve adapters with plain `slm serve --adapter`")
        info, defaults, digest, seconds = self._describe(spec.name)
        handle, replicas = self.models[spec.name]
        return LoadResult(HandleEngine(handle, info, replicas=replicas), defaults,
                          digest=digest, load_seconds=seconds)

    def available(self):
        from slmkit.serve.registry import Available

        out = []
        for name in sorted(self.models):
            info, _, digest, _ = self._describe(name)
            out.append(Available(name, info.size_bytes, digest, 0.0, info))
        return out
