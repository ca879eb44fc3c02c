"""`slm serve [MODEL ...]`: an OpenAI- and Ollama-compatible HTTP server.

The models named here are loaded at start-up and stay loaded; any other stored model is
loaded on its first request and unloaded after --keep-alive seconds idle, or earlier when
a new model needs the memory (--memory-budget). This module is the wiring: it builds the
loader (store → memory check → backend) that ``slmkit.serve`` uses without importing it.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import sys

API_KEY_ENV = "SLM_API_KEY"
# options whose default comes from slmkit.settings (CLI > env > config.toml > default)
SETTINGS_ARGS = ("host", "port", "ctx", "threads", "parallel", "queue", "keep_alive",
                 "request_timeout")
GiB = 1024**3


def configure(p) -> None:
    p.add_argument("models", nargs="*", metavar="MODEL",
                   help="models to load at start-up (default: setting model.default, else the "
                        "catalog's default model)")
    # None: filled from the settings (env > config.toml > default) before run()
    p.set_defaults(_settings_args=SETTINGS_ARGS)
    p.epilog = ("Unset options take their value from the environment, then "
                "$SLM_HOME/config.toml (see `slm config`).")
    net = p.add_argument_group("network and security")
    net.add_argument("--host", default=None,
                     help="address to bind (default 127.0.0.1; any other needs an API key)")
    net.add_argument("--port", type=int, default=None, help="default 8000")
    net.add_argument("--api-key", action="append", default=[], metavar="KEY",
                     help=f"accept this key (repeatable; or set {API_KEY_ENV})")
    net.add_argument("--api-key-file", metavar="FILE", help="accept the keys in FILE, one a line")
    net.add_argument("--cors-origin", action="append", default=[], metavar="ORIGIN",
                     help="allow browser requests from ORIGIN (repeatable; '*' for any)")
    net.add_argument("--max-body-bytes", type=int, default=4 * 1024 * 1024, metavar="N",
                     help="largest request body accepted (default 4 MiB)")
    eng = p.add_argument_group("models and scheduling")
    eng.add_argument("--ctx", type=int, default=None, metavar="N",
                     help="context window in tokens (default 4096)")
    eng.add_argument("--threads", type=int, default=None, metavar="N",
                     help="CPU threads (default: physical cores)")
    eng.add_argument("--parallel", type=int, default=None, metavar="N",
                     help="sequences decoded together per model, each with its own --ctx "
                          "(default 4)")
    eng.add_argument("--queue", type=int, default=None, metavar="N",
                     help="requests that may wait for a slot; beyond that: 429 (default 64)")
    eng.add_argument("--keep-alive", type=float, default=None, metavar="SECONDS",
                     help="unload a model loaded on demand after this long idle (default 300; "
                          "-1 = never)")
    eng.add_argument("--memory-budget", type=float, default=None, metavar="GB",
                     help="memory for loaded models (default: what is available at start)")
    eng.add_argument("--request-timeout", type=float, default=None, metavar="SECONDS",
                     help="end a generation after this long (default 600)")
    eng.add_argument("--no-pull", action="store_true",
                     help="fail instead of pulling a catalog model named here")
    eng.add_argument("--adapter", action="append", default=[], metavar="NAME=PATH",
                     help="serve a LoRA adapter (GGUF, or a `slm finetune` output dir) as the "
                          "model BASE+NAME on the first model's engine, switched per request "
                          "without reloading the base; BASE+NAME=PATH picks the base "
                          "(repeatable)")
    eng.add_argument("--rag", action="append", default=[], metavar="COLLECTION",
                     help="check this document collection at start; chat with it as the "
                          "model rag:COLLECTION (any collection works on demand; repeatable)")
    eng.add_argument("--rag-model", default=None, metavar="MODEL",
                     help="the model that answers for rag:COLLECTION (default: the first "
                          "MODEL)")
    from slmkit.cli import serve_route

    serve_route.configure(p)
    p.add_argument("--log-level", default="info",
                   choices=["debug", "info", "warning", "error"],
                   help="info logs one JSON line per request (default)")
    p.add_argument("--verbose", action="store_true", help="also show llama.cpp's log")


def api_keys(args) -> list[str]:
    """--api-key values, then the key file's lines, then the ``api_key`` setting
    ($SLM_API_KEY, else config.toml); the key file is --api-key-file, else the setting."""
    from slmkit.settings import get_settings

    settings = get_settings({"api_key_file": args.api_key_file})
    keys = list(args.api_key)
    if settings.api_key_file:
        with open(settings.api_key_file, encoding="utf-8") as f:
            keys += [line.strip() for line in f if line.strip() and not line.startswith("#")]
        if not keys:
            raise ValueError(f"{settings.api_key_file} holds no API key")
    if settings.api_key is not None:
        keys.append(settings.api_key)
    return keys


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_exposure(host: str, keys: list[str]) -> None:
    if not is_loopback(host) and not keys:
        raise ValueError(
            f"refusing to bind {host} without an API key: anyone on the network could use "
            f"the models. Pass --api-key KEY, --api-key-file FILE or set {API_KEY_ENV} "
            "(or bind 127.0.0.1)")


class StoreLoader:
    """The registry's loader: names → the local store → memory check → llama.cpp engine.
    Clients may only name models (stored names or catalog aliases), never paths or
    sources, and a request never pulls."""

    def __init__(self, args, store=None) -> None:
        from slmkit.models.store import Store

        self.args, self.store = args, store or Store()
        self._refs: dict = {}
        self.adapters = None  # adapt.serving.AdapterTable, set by attach_adapters
        self.registry = None  # set by run(): adapter models acquire their base through it

    def attach_adapters(self, default_base: str | None) -> None:
        from slmkit.adapt.serving import AdapterTable, parse_adapter_arg

        specs = [parse_adapter_arg(a) for a in getattr(self.args, "adapter", [])]
        self.adapters = AdapterTable(specs, default_base) if specs else None

    def _adapter_view(self, name: str):
        return self.adapters.view(name) if self.adapters is not None else None

    def resolve(self, name: str, *, from_cli: bool = False):
        from slmkit.core.errors import ModelNotFoundError
        from slmkit.models.fit import check_fits
        from slmkit.models.sources import is_source_spec
        from slmkit.serve.registry import ModelSpec

        if not from_cli and is_source_spec(name):
            raise ModelNotFoundError(name, hint="this server loads models by name; "
                                                "GET /v1/models lists them")
        if self._adapter_view(name):  # BASE+ADAPTER: no memory of its own beyond the base
            return ModelSpec(name, 0)
        ref = self.store.resolve(name, pull_missing=from_cli and not self.args.no_pull)
        # every slot has its own --ctx of KV cache
        slots = self.args.parallel if engine_options(self.args) else 1
        est = check_fits(ref.path, n_ctx=self.args.ctx, n_parallel=slots)
        self._refs[ref.name] = ref
        return ModelSpec(ref.name, est.total)

    def load(self, spec):
        import time

        from slmkit.cli.common import _entry_for_file
        from slmkit.models import catalog
        from slmkit.runtime import load_engine
        from slmkit.serve.registry import LoadResult, ModelDefaults

        view = self._adapter_view(spec.name)
        if view is not None:
            return self._load_view(*view)
        ref = self._refs[spec.name]
        entry = catalog.get(ref.name) or _entry_for_file(ref.path)
        t0 = time.perf_counter()
        adapters = self.adapters.for_base(ref.name) if self.adapters is not None else {}
        engine = load_engine(ref.path, name=ref.name, n_ctx=self.args.ctx,
                             n_threads=self.args.threads, verbose=self.args.verbose,
                             **engine_options(self.args), **({"adapters": adapters}
                                                             if adapters else {}))
        defaults = ModelDefaults.from_prompt_defaults(entry.prompt_defaults if entry else None)
        return LoadResult(engine, defaults, digest=ref.sha256,
                          load_seconds=time.perf_counter() - t0)

    def _load_view(self, base: str, adapter: str):
        """BASE+ADAPTER: the base's engine with the adapter applied; the base stays in
        use (never unloaded) until this model is."""
        from slmkit.serve.registry import LoadResult

        held = self.registry.acquire(base)
        try:
            engine = held.engine.with_adapter(adapter,
                                              on_close=lambda: self.registry.release(held))
        except BaseException:
            self.registry.release(held)
            raise
        return LoadResult(engine, held.defaults, digest=None)

    def available(self):
        from slmkit.serve.registry import Available

        out = []
        for full, base in self.adapters.names() if self.adapters is not None else []:
            ref = self._refs.get(base)
            out.append(Available(full, 0, None, _modified(ref.path) if ref else 0.0))
        for ref in self.store.list():
            try:
                manifest = self.store.manifest(ref.name)
            except Exception:  # noqa: BLE001, S112 - a broken manifest is skipped, not fatal
                continue
            if manifest.get("kind", "llm") != "llm":
                continue
            out.append(Available(ref.name, ref.size_bytes, ref.sha256,
                                 _modified(ref.path), _info_from_manifest(ref.name, manifest)))
        return out


def engine_options(args) -> dict:
    """--parallel/--queue for a backend that takes them (checked against its signature)."""
    import inspect

    from slmkit.runtime.llamacpp.engine import LlamaCppEngine

    params = inspect.signature(LlamaCppEngine.__init__).parameters
    wanted = {"n_parallel": args.parallel, "max_queue": args.queue}
    return {k: v for k, v in wanted.items() if k in params}


def _modified(path: str) -> float:
    try:
        return os.path.getmtime(path)
    except OSError:
        return 0.0


def _info_from_manifest(name: str, manifest: dict):
    from slmkit.core.engine import ModelInfo

    g = manifest.get("gguf") or {}
    return ModelInfo(name=name, architecture=g.get("architecture", ""),
                     n_params=int(g.get("parameters") or 0),
                     n_ctx_train=int(g.get("context_length") or 0),
                     n_embd=int(g.get("embedding_length") or 0),
                     quantization=g.get("quantization", ""),
                     size_bytes=int(manifest.get("size") or 0))


def banner(host: str, port: int, model: str, keyed: bool) -> str:
    shown = f"[{host}]" if ":" in host else host
    base = f"http://{shown}:{port}"
    auth = ' -H "Authorization: Bearer $SLM_API_KEY"' if keyed else ""
    key = 'os.environ["SLM_API_KEY"]' if keyed else '"none"'
    imp = "import os\n" if keyed else ""
    return f"""slm serve: {model} ready at {base}  (OpenAI: {base}/v1, Ollama: {base}/api)

  curl {base}/v1/chat/completions{auth} -H "Content-Type: application/json" \\
    -d '{{"model": "{model}", "messages": [{{"role": "user", "content": "Hello!"}}]}}'

  {imp}from openai import OpenAI
  client = OpenAI(base_url="{base}/v1", api_key={key})
  r = client.chat.completions.create(model="{model}",
                                     messages=[{{"role": "user", "content": "Hello!"}}])
  print(r.choices[0].message.content)

  metrics: {base}/metrics · health: {base}/health · stop: Ctrl-C
"""


def _setup_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    root = logging.getLogger("slmkit")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False


def run(args) -> int:
    import uvicorn

    from slmkit.cli import serve_route
    from slmkit.serve import routes_guard, routes_rag
    from slmkit.serve.app import create_app
    from slmkit.serve.auth import ApiKeys
    from slmkit.serve.metrics import Metrics
    from slmkit.serve.registry import Registry
    from slmkit.serve.service import Service

    keys = api_keys(args)
    check_exposure(args.host, keys)
    serve_route.check(args)
    if args.parallel < 1 or args.queue < 0:
        raise ValueError("--parallel must be >= 1 and --queue >= 0")
    _setup_logging(args.log_level)
    loader = store_loader = StoreLoader(args)  # the wrappers below delegate to it
    from slmkit.cli.rag import RagLoader, rag_service  # rag:COLLECTION models, /v1/rag

    rag = rag_service()
    loader = RagLoader(loader, args, rag)
    for collection in args.rag:  # fail fast on a missing collection
        rag.retriever(collection)
    if args.route:  # the model "auto": LOCAL first, escalations to --upstream
        loader = serve_route.RoutingLoader(loader, args)
    names = args.models or [serve_route.AUTO if args.route else None]
    specs = [loader.resolve(n, from_cli=True) for n in names]  # fail fast, before binding
    store_loader.attach_adapters(specs[0].name)
    keep_alive = float("inf") if args.keep_alive < 0 else args.keep_alive
    registry = Registry(loader, keep_alive=keep_alive, memory_budget=_budget(args),
                        queue=args.queue)
    store_loader.registry = registry  # BASE+ADAPTER models acquire their base through it
    for spec in specs:  # paths named here are known by name from now on
        registry.remember(spec)
    metrics = Metrics(registry)
    service = Service(registry, metrics, request_timeout=args.request_timeout or None)
    failure: list[BaseException] = []

    def preload() -> None:
        for spec in specs:
            registry.release(registry.acquire(spec.name, pinned=True))
        print(banner(args.host, args.port, specs[0].name, bool(keys)), flush=True)

    def on_fatal(err: BaseException) -> None:
        failure.append(err)
        server.should_exit = True

    app = create_app(service, api_keys=ApiKeys(keys), cors_origins=args.cors_origin,
                     max_body_bytes=args.max_body_bytes, preload=preload, on_fatal=on_fatal,
                     routers=[routes_rag.router, routes_guard.router],
                     state={"rag": rag, "guard": serve_route.guard_service(args)})
    config = uvicorn.Config(app, host=args.host, port=args.port, access_log=False,
                            log_level="warning", timeout_graceful_shutdown=5,
                            server_header=False)
    server = uvicorn.Server(config)
    server.run()
    if failure:
        raise failure[0]
    return 0 if server.started else 1


def _budget(args) -> int | None:
    if args.memory_budget is not None:
        return int(args.memory_budget * GiB) if args.memory_budget > 0 else None
    from slmkit.models.hardware import probe

    return probe().available_ram
