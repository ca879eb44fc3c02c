"""`slm serve --ray`: the OpenAI and Ollama app served by Ray Serve.

One ingress deployment runs the same FastAPI app as plain ``slm serve``
(:func:`slmkit.serve.server.build_app`); each model is its own deployment of
:class:`ModelReplica` (one engine per replica, with its own continuous batching), reached
from the app through :class:`~slmkit.scale.ray_engine.HandleEngine`, so routing, the guard
and RAG compose on top unchanged. The app is composed inside the ingress replica by a
picklable ``compose(loader) -> (registry, specs, ServerOptions)`` the caller provides (the
CLI passes its own composition), so this module imports no feature package.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

APP_NAME = "slmkit"
INGRESS = "ingress"


@dataclass(frozen=True)
class RayOptions:
    """How the models are replicated and where Ray runs.

    ``replicas``: fixed replicas per model; ``autoscale``: ``(min, max)`` replicas scaled on
    queue depth (``target_ongoing_requests`` per replica, default: its batch slots);
    ``address``: an existing cluster (``auto``, ``ray://host:10001``, ``host:6379``), else a
    local head on 127.0.0.1 is started and stopped with the server."""

    replicas: int = 1
    autoscale: tuple[int, int] | None = None
    address: str | None = None
    target_ongoing_requests: float | None = None
    graceful_shutdown_timeout_s: float = 20.0
    replica_cpus: float = 1.0  # Ray's logical CPUs per model replica (scheduling only)

    @property
    def max_replicas(self) -> int:
        return self.autoscale[1] if self.autoscale else self.replicas


def parse_autoscale(value: str) -> tuple[int, int]:
    """``MIN:MAX`` → ``(MIN, MAX)``; raises ``ValueError`` with the expected form."""
    m = re.fullmatch(r"\s*(\d+)\s*:\s*(\d+)\s*", value or "")
    if not m or int(m[1]) > int(m[2]) or int(m[2]) < 1:
        raise ValueError(f"--autoscale takes MIN:MAX with 0 <= MIN <= MAX, MAX >= 1 "
                         f"(e.g. 1:4), not {value!r}")
    return int(m[1]), int(m[2])


async def _chunks_in_thread(stream: Any) -> AsyncIterator[Any]:
    """Iterate a blocking ChunkStream on its own thread (the replica's event loop stays free
    for the other requests of the batch); closing this generator closes the stream."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue = asyncio.Queue()
    end = object()

    def pump() -> None:
        try:
            for chunk in stream:
                loop.call_soon_threadsafe(queue.put_nowait, chunk)
        except BaseException as err:  # noqa: BLE001 - handed to the consumer
            loop.call_soon_threadsafe(queue.put_nowait, err)
        loop.call_soon_threadsafe(queue.put_nowait, end)

    threading.Thread(target=pump, daemon=True, name="slm-ray-stream").start()
    try:
        while (item := await queue.get()) is not end:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stream.close()  # cancels a request still decoding (client gone, replica drained)


class ModelReplica:
    """One replica of a model deployment: loads ``name`` from the local store with ``load``
    (``serve.loader.LoadOptions`` fields) and answers the ``HandleEngine`` calls."""

    def __init__(self, name: str, load: dict) -> None:
        from slmkit.serve.loader import LoadOptions, StoreLoader

        loader = StoreLoader(LoadOptions(**load))  # pulls on a node without it, if allowed
        result = loader.load(loader.resolve(name, from_cli=True))
        self.engine = result.engine
        self._description = (self.engine.info, result.defaults, result.digest,
                             result.load_seconds)

    def describe(self) -> tuple:
        """``(ModelInfo, ModelDefaults, digest, load seconds)`` of this replica's model."""
        return self._description

    async def generate(self, request: Any) -> AsyncIterator[Any]:
        """The request's chunks (call with ``handle.options(stream=True)``)."""
        from slmkit.scale.ray_engine import RemoteError

        try:
            stream = await asyncio.to_thread(self.engine.generate, request)
            async for chunk in _chunks_in_thread(stream):
                yield chunk
        except Exception as err:  # noqa: BLE001 - sent to the caller as data
            raise RemoteError.pack(err) from None

    async def _run(self, method: Any, *args: Any, **kwargs: Any) -> Any:
        """``method`` (one of :attr:`engine`'s) in a worker thread; errors packed for the
        caller."""
        from slmkit.scale.ray_engine import RemoteError

        try:
            return await asyncio.to_thread(method, *args, **kwargs)
        except Exception as err:  # noqa: BLE001 - sent to the caller as data
            raise RemoteError.pack(err) from None

    async def tokenize(self, text: str, add_special: bool = True) -> list[int]:
        return await self._run(self.engine.tokenize, text, add_special=add_special)

    async def detokenize(self, tokens: list[int]) -> str:
        return await self._run(self.engine.detokenize, tokens)

    async def prompt_tokens(self, request: Any) -> list[int]:
        return await self._run(self.engine.prompt_tokens, request)

    async def token_logprobs(self, tokens: list[int], top: int = 0) -> list:
        return await self._run(self.engine.token_logprobs, tokens, top=top)

    async def logits(self, tokens: list[int], first: int = 0) -> Any:
        return await self._run(self.engine.logits, tokens, first=first)

    async def embed(self, texts: list[str]) -> list[list[float]]:
        return await self._run(self.engine.embed, texts)

    async def render_chat(self, messages: list, add_generation_prompt: bool = True,
                          tools: list | None = None) -> str:
        return await self._run(self.engine.render_chat, messages,
                               add_generation_prompt=add_generation_prompt, tools=tools)

    def __del__(self) -> None:
        engine = getattr(self, "engine", None)
        if engine is not None:
            engine.close()


class Ingress:
    """The HTTP ingress: builds the app over the model handles when the replica starts
    (``__serve_build_asgi_app__``; see :func:`ingress_deployment`)."""

    def __init__(self, models: dict[str, tuple[Any, int]], aliases: dict[str, str],
                 compose: Callable[[Any], tuple]) -> None:
        from slmkit.scale.ray_engine import HandleLoader

        self.loader = HandleLoader(models, aliases, canonical=_stored_name)
        self.compose = compose

    def __serve_build_asgi_app__(self):
        from slmkit.serve.server import build_app

        registry, specs, options = self.compose(self.loader)
        return build_app(registry, specs, options)


def _stored_name(name: str) -> str | None:
    """The stored model a name means (catalog aliases included), when this machine's store
    has it; the Ray ingress serves the same aliases as plain `slm serve`."""
    from slmkit.core.errors import SlmError
    from slmkit.serve.loader import LoadOptions, StoreLoader

    try:
        return StoreLoader(LoadOptions(pull=False)).resolve(name).name
    except (SlmError, OSError, ValueError):
        return None


def deployment_name(model: str) -> str:
    """A Ray deployment name for a served model name."""
    return "model-" + re.sub(r"[^A-Za-z0-9_.-]+", "-", model)


def application(models: list[tuple[str, str]], load: dict, compose: Callable[[Any], tuple],
                options: RayOptions):
    """The Ray Serve application: ``models`` are ``(served name, name as asked)`` pairs;
    ``load`` the replicas' ``LoadOptions`` fields."""
    from ray import serve

    slots = int(load.get("n_parallel", 4))
    per_replica = slots + int(load.get("max_queue", 64))
    scaling: dict[str, Any] = {"num_replicas": options.replicas}
    if options.autoscale:
        low, high = options.autoscale
        scaling = {"autoscaling_config": {
            "min_replicas": low, "max_replicas": high, "initial_replicas": max(1, low),
            "target_ongoing_requests": options.target_ongoing_requests or slots}}
    bound = {}
    for served, _ in models:
        dep = serve.deployment(ModelReplica).options(
            name=deployment_name(served), max_ongoing_requests=per_replica,
            graceful_shutdown_timeout_s=options.graceful_shutdown_timeout_s,
            health_check_period_s=5, ray_actor_options={"num_cpus": options.replica_cpus},
            **scaling)
        bound[served] = (dep.bind(served, load), options.max_replicas)
    ingress = serve.deployment(serve.ingress()(Ingress)).options(
        name=INGRESS, num_replicas=1, ray_actor_options={"num_cpus": 0},
        max_ongoing_requests=max(100, per_replica * options.max_replicas * len(models)),
        graceful_shutdown_timeout_s=options.graceful_shutdown_timeout_s)
    return ingress.bind(bound, {asked: served for served, asked in models if asked}, compose)


def build(args: Any, compose: Callable[[Any], tuple], load: Any):
    """`slm serve --ray`'s application from its parsed options: ``(application, served
    names, RayOptions)``. The models are resolved (and pulled, unless --no-pull) here."""
    from dataclasses import asdict

    from slmkit.core.errors import SlmError
    from slmkit.serve.loader import StoreLoader

    if args.adapter:
        raise SlmError("--adapter is not supported with --ray",
                       hint="serve adapters with plain `slm serve --adapter`")
    if args.replicas < 1:
        raise ValueError("--replicas must be >= 1")
    options = RayOptions(replicas=args.replicas, address=args.address,
                         autoscale=parse_autoscale(args.autoscale) if args.autoscale else None)
    store = StoreLoader(load)
    models = [(store.resolve(n, from_cli=True).name, n or "") for n in (args.models or [None])]
    return application(models, asdict(load), compose, options), models, options


def serve_cli(args: Any, compose: Callable[[Any], tuple], load: Any) -> int:
    """What `slm serve --ray` runs once its options are parsed: deploy the models and the
    ingress, print the banner when ``/ready`` answers, serve until SIGINT/SIGTERM."""
    from slmkit.scale.ray_cluster import run_app
    from slmkit.serve.server import banner

    app, models, options = build(args, compose, load)
    url = f"http://{'[' + args.host + ']' if ':' in args.host else args.host}:{args.port}"
    return run_app(app, name=APP_NAME, host=args.host, port=args.port, address=args.address,
                   num_cpus=int(options.max_replicas * options.replica_cpus * len(models)),
                   ready=lambda: _answers(url + "/ready"),
                   on_ready=lambda: print(banner(args.host, args.port, models[0][0],
                                                 bool(args.api_key or args.api_key_file))
                                          + f"  Ray Serve: {options.max_replicas} replica(s) "
                                            "per model\n", flush=True))


def _answers(url: str) -> bool:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=2) as r:  # noqa: S310 - our own loopback URL
            return r.status == 200
    except (urllib.error.URLError, OSError):
        return False
