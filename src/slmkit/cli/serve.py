"""`slm serve [MODEL ...]`: an OpenAI- and Ollama-compatible HTTP server.

The models named here are loaded at start-up and stay loaded; any other stored model is
loaded on its first request and unloaded after --keep-alive seconds idle, or earlier when
a new model needs the memory (--memory-budget). This module maps the arguments to
``slmkit.serve`` (its ``StoreLoader`` opens GGUF, Hugging Face and ONNX models through
``slmkit.models.load``) and prints the banner.
"""

from __future__ import annotations

import logging
import sys

from slmkit.cli.args import Opt, options

API_KEY_ENV = "SLM_API_KEY"
# options whose default comes from slmkit.settings (CLI > env > config.toml > default)
SETTINGS_ARGS = ("host", "port", "ctx", "threads", "parallel", "queue", "keep_alive",
                 "request_timeout")
GiB = 1024**3


def configure(p) -> None:
    p.add_argument("models", nargs="*", metavar="MODEL",
                   help="models to load at start-up (default: setting model.default, else the "
                        "catalog's default model)")
    p.set_defaults(_settings_args=SETTINGS_ARGS)  # None: filled from the settings before run()
    p.epilog = ("Unset options take their value from the environment, then "
                "$SLM_HOME/config.toml (see `slm config`).")
    options(p.add_argument_group("network and security"),
            host=Opt(None, "address to bind (default 127.0.0.1; any other needs an API key)"),
            port=Opt(None, "default 8000", type=int),
            api_key=Opt(None, f"accept this key (repeatable; or set {API_KEY_ENV})", "KEY",
                        action="append"),
            api_key_file=Opt(None, "accept the keys in FILE, one a line", "FILE"),
            cors_origin=Opt(None, "allow browser requests from ORIGIN (repeatable; '*' for "
                                  "any)", "ORIGIN", action="append"),
            allowed_host=Opt(None, "also answer requests addressed to NAME (the Host header; "
                                   "repeatable; '*' for any). On loopback only localhost and "
                                   "loopback addresses are answered by default, against DNS "
                                   "rebinding", "NAME", action="append"),
            max_body_bytes=Opt(4 * 1024 * 1024, "largest request body accepted (default 4 "
                                                "MiB)"))
    options(p.add_argument_group("models and scheduling"),
            ctx=Opt(None, "context window in tokens (default 4096)", type=int),
            threads=Opt(None, "CPU threads (default: the physical cores other processes leave "
                              "free, re-chosen while serving; see docs/threads.md)", type=int),
            parallel=Opt(None, "sequences decoded together per llama.cpp model, each with its "
                               "own --ctx (default 4); torch and onnx models answer one at a "
                               "time", type=int),
            queue=Opt(None, "requests that may wait for a slot; beyond that: 429 (default 64)",
                      type=int),
            keep_alive=Opt(None, "unload a model loaded on demand after this long idle "
                                 "(default 300; -1 = never)", "SECONDS", float),
            memory_budget=Opt(None, "memory for loaded models (default: what is available at "
                                    "start)", "GB", float),
            request_timeout=Opt(None, "end a generation after this long (default 600)",
                                "SECONDS", float),
            no_pull=Opt(False, "fail instead of pulling a catalog model named here"),
            adapter=Opt(None, "serve a LoRA adapter (GGUF, or a `slm finetune` output dir) as "
                              "the model BASE+NAME on the first model's engine, switched per "
                              "request without reloading the base; BASE+NAME=PATH picks the "
                              "base (repeatable)", "NAME=PATH", action="append"),
            rag=Opt(None, "check this document collection at start; chat with it as the model "
                          "rag:COLLECTION (any collection works on demand; repeatable)",
                    "COLLECTION", action="append"),
            rag_model=Opt(None, "the model that answers for rag:COLLECTION (default: the first "
                                "MODEL)", "MODEL"))
    from slmkit.cli import serve_route

    serve_route.configure(p)
    options(p, log_level=Opt("info", "info logs one JSON line per request",
                             choices=("debug", "info", "warning", "error")),
            verbose=Opt(False, "also show llama.cpp's log"))


def api_keys(args) -> list[str]:
    """--api-key values, then the key file's lines, then the ``api_key`` setting
    ($SLM_API_KEY, else config.toml); the key file is --api-key-file, else the setting.
    A blank key anywhere is refused, naming where it came from (it would turn
    authentication off)."""
    from slmkit.serve.auth import check_key
    from slmkit.settings import get_settings

    settings = get_settings({"api_key_file": args.api_key_file})
    keys = [check_key(k, f"from --api-key #{i}") for i, k in enumerate(args.api_key, 1)]
    if settings.api_key_file:
        with open(settings.api_key_file, encoding="utf-8") as f:
            lines = [line.strip() for line in f if line.strip() and not line.startswith("#")]
        if not lines and not keys:
            raise ValueError(f"{settings.api_key_file} holds no API key")
        keys += [check_key(k, f"in {settings.api_key_file}") for k in lines]
    if settings.api_key is not None:
        keys.append(check_key(settings.api_key,
                              f"from ${API_KEY_ENV} (or serve.api_key in config.toml)"))
    return keys


def is_loopback(host: str) -> bool:
    from slmkit.serve.auth import is_loopback as loopback

    return loopback(host)


def check_exposure(host: str, keys: list[str]) -> None:
    """See ``slmkit.serve.auth.check_exposure``; its warnings go to stderr."""
    from slmkit.serve.auth import check_exposure as check

    for warning in check(host, keys):
        print(f"warning: {warning}", file=sys.stderr)


def banner(host: str, port: int, model: str, keyed: bool) -> str:
    shown = f"[{host}]" if ":" in host else host
    base = f"http://{shown}:{port}"
    auth = ' -H "Authorization: Bearer $SLM_API_KEY"' if keyed else ""
    key = '"<your API key>"' if keyed else '"none"'
    return f"""slm serve: {model} ready at {base}  (OpenAI: {base}/v1, Ollama: {base}/api)

  curl {base}/v1/chat/completions{auth} -H "Content-Type: application/json" \\
    -d '{{"model": "{model}", "messages": [{{"role": "user", "content": "Hello!"}}]}}'

  from openai import OpenAI
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

    from slmkit.cli import serve_apps, serve_route
    from slmkit.serve import routes_apps, routes_guard, routes_infill, routes_rag
    from slmkit.serve.app import create_app
    from slmkit.serve.auth import ApiKeys
    from slmkit.serve.loader import LoadOptions, StoreLoader
    from slmkit.serve.metrics import Metrics
    from slmkit.serve.registry import Registry
    from slmkit.serve.service import Service

    keys = api_keys(args)
    check_exposure(args.host, keys)
    serve_route.check(args)
    if args.parallel < 1 or args.queue < 0:
        raise ValueError("--parallel must be >= 1 and --queue >= 0")
    _setup_logging(args.log_level)
    store_loader = StoreLoader(LoadOptions(
        n_ctx=args.ctx, n_threads=args.threads, n_parallel=args.parallel, max_queue=args.queue,
        verbose=args.verbose, pull=not args.no_pull))
    loader = store_loader  # the wrappers below delegate to it
    from slmkit.rag.serving import RagModels, rag_service  # rag:COLLECTION, /v1/rag
    from slmkit.serve.prefixed import PrefixLoader

    rag = rag_service()
    loader = PrefixLoader(loader, RagModels(rag, args.rag_model or (args.models or [None])[0]))
    for collection in args.rag:  # fail fast on a missing collection
        rag.retriever(collection)
    if args.route:  # the model "auto": LOCAL first, escalations to --upstream
        loader = serve_route.RoutingLoader(loader, args)
    names = args.models or [serve_route.AUTO if args.route else None]
    specs = [loader.resolve(n, from_cli=True) for n in names]  # fail fast, before binding
    store_loader.adapters = _adapter_table(args, specs[0].name)
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
                     routers=[routes_rag.router, routes_guard.router, routes_apps.router,
                              routes_infill.router],
                     bind_host=args.host, allowed_hosts=args.allowed_host,
                     state={"rag": rag, "guard": serve_route.guard_service(args),
                            "apps": serve_apps.handlers(
                                serve_apps.engine_source(registry, specs[0].name), args),
                            "infill": serve_apps.infiller(specs[0].name),
                            **_ui_state(args)})
    config = uvicorn.Config(app, host=args.host, port=args.port, access_log=False,
                            log_level="warning", timeout_graceful_shutdown=5,
                            server_header=False)
    server = uvicorn.Server(config)
    server.run()
    if failure:
        raise failure[0]
    return 0 if server.started else 1


def _ui_state(args) -> dict:
    """What the web UI's routes use: conversations under $SLM_HOME/ui, the model store,
    and the last day of the routing ledger (routing decisions, costs, guard counts)."""
    import time

    from slmkit.models.admin import StoreAdmin
    from slmkit.route.ledger import default_path
    from slmkit.route.report import operations
    from slmkit.serve.conversations import ConversationStore
    from slmkit.settings import get_settings

    home = get_settings().home
    ledger = args.ledger or default_path()
    return {"conversations": ConversationStore(home / "ui" / "conversations.sqlite"),
            "models_admin": StoreAdmin(),
            "operations": lambda: operations(ledger, since=time.time() - 86400)}


def _adapter_table(args, default_base: str | None):
    """--adapter NAME=PATH / BASE+NAME=PATH values as the table the loader serves."""
    if not args.adapter:
        return None
    from slmkit.adapt.serving import AdapterTable, parse_adapter_arg

    return AdapterTable([parse_adapter_arg(a) for a in args.adapter], default_base)


def _budget(args) -> int | None:
    if args.memory_budget is not None:
        return int(args.memory_budget * GiB) if args.memory_budget > 0 else None
    from slmkit.models.hardware import probe

    return probe().available_ram
