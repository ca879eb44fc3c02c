"""`slm serve [MODEL ...]`: an OpenAI- and Ollama-compatible HTTP server.

The models named here are loaded at start-up and stay loaded; any other stored model is
loaded on its first request and unloaded after --keep-alive seconds idle, or earlier when
a new model needs the memory (--memory-budget). This module maps the arguments to
``slmkit.serve`` (its ``StoreLoader`` opens GGUF, Hugging Face and ONNX models through
``slmkit.models.load``) and prints the banner.
"""

from __future__ import annotations

import functools
import sys

from slmkit.cli.args import Opt, options
from slmkit.serve.server import banner  # noqa: F401 (the banner `slm serve` prints)

API_KEY_ENV = "SLM_API_KEY"
# options whose default comes from slmkit.settings (CLI > env > config.toml > default)
SETTINGS_ARGS = ("host", "port", "ctx", "threads", "parallel", "queue", "keep_alive",
                 "request_timeout")


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
    options(p.add_argument_group("Ray Serve (docs/scale.md)"),
            ray=Opt(False, "serve through Ray Serve: each model a deployment of replicas"),
            replicas=Opt(1, "replicas per model with --ray", type=int),
            autoscale=Opt(None, "with --ray: scale each model between MIN and MAX replicas "
                                "on queue depth", "MIN:MAX"),
            address=Opt(None, "with --ray: an existing Ray cluster (auto, ray://HOST:10001); "
                              "default: a local head on 127.0.0.1", "ADDRESS"))
    from slmkit.cli import serve_route

    serve_route.configure(p)
    options(p, sagemaker=Opt(False, "also answer SageMaker's GET /ping and POST /invocations "
                                    "(a chat completion with the first MODEL; see docs/aws.md)"),
            log_level=Opt("info", "info logs one JSON line per request",
                             choices=("debug", "info", "warning", "error")),
            verbose=Opt(False, "also show llama.cpp's log"))


def api_keys(args) -> list[str]:
    """``slmkit.serve.auth.collect_keys`` for --api-key and --api-key-file."""
    from slmkit.serve.auth import collect_keys

    return collect_keys(args.api_key, args.api_key_file)


def is_loopback(host: str) -> bool:
    from slmkit.serve.auth import is_loopback as loopback

    return loopback(host)


def check_exposure(host: str, keys: list[str]) -> None:
    """See ``slmkit.serve.auth.check_exposure``; its warnings go to stderr."""
    from slmkit.serve.auth import check_exposure as check

    for warning in check(host, keys):
        print(f"warning: {warning}", file=sys.stderr)


def run(args) -> int:
    from slmkit.serve import server

    keys = api_keys(args)
    check_exposure(args.host, keys)
    if args.parallel < 1 or args.queue < 0:
        raise ValueError("--parallel must be >= 1 and --queue >= 0")
    server.setup_logging(args.log_level)
    if args.ray:
        from slmkit.scale.ray_serve import serve_cli

        return serve_cli(args, functools.partial(compose, args), _load_options(args))
    return server.run(*compose(args))


def ray_app(config: dict):
    """The Ray Serve application of `slm serve ARGV --ray`, for ``serve run`` and KubeRay's
    RayService (``import_path: slmkit.cli.serve:ray_app``, ``args: {argv: [...]}``)."""
    import argparse

    from slmkit.scale.ray_serve import build
    from slmkit.settings import apply_cli

    p = argparse.ArgumentParser(prog="slm serve")
    configure(p)
    args = p.parse_args([*config.get("argv", ()), "--ray"])
    apply_cli(args, SETTINGS_ARGS)
    return build(args, functools.partial(compose, args), _load_options(args))[0]


def _load_options(args):
    from slmkit.serve.loader import LoadOptions

    return LoadOptions(n_ctx=args.ctx, n_threads=args.threads, n_parallel=args.parallel,
                       max_queue=args.queue, verbose=args.verbose, pull=not args.no_pull)


def compose(args, base_loader=None):
    """The registry, start-up models and server options of `slm serve` over ``base_loader``
    (default: the model store; `--ray` gives its model deployments' loader)."""
    from slmkit.cli import serve_apps, serve_route
    from slmkit.rag.serving import RagModels, rag_service  # rag:COLLECTION, /v1/rag
    from slmkit.serve import routes_apps, routes_guard, routes_infill, routes_rag, server
    from slmkit.serve.loader import StoreLoader
    from slmkit.serve.prefixed import PrefixLoader

    serve_route.check(args)
    store_loader = base_loader or StoreLoader(_load_options(args))
    rag = rag_service()
    loader = PrefixLoader(store_loader,
                          RagModels(rag, args.rag_model or (args.models or [None])[0]))
    for collection in args.rag:  # fail fast on a missing collection
        rag.retriever(collection)
    if args.route:  # the model "auto": LOCAL first, escalations to --upstream
        loader = serve_route.routing_loader(loader, args)
    names = args.models or [serve_route.AUTO if args.route else None]
    specs = [loader.resolve(n, from_cli=True) for n in names]  # fail fast, before binding
    store_loader.adapters = _adapter_table(args, specs[0].name)
    options = server.ServerOptions(
        host=args.host, port=args.port, api_keys=api_keys(args),
        cors_origins=args.cors_origin, allowed_hosts=args.allowed_host,
        max_body_bytes=args.max_body_bytes, keep_alive=args.keep_alive,
        memory_budget=_budget(args), queue=args.queue, request_timeout=args.request_timeout,
        routers=[routes_rag.router, routes_guard.router, routes_apps.router,
                 routes_infill.router, *_sagemaker_router(args)],
        state={"rag": rag, "guard": serve_route.guard_service(args),
               "infill": serve_apps.infiller(specs[0].name), "sagemaker_model": specs[0].name,
               **_ui_state(args)})
    registry = server.registry(loader, specs, options, store_loader=store_loader)
    options.state["apps"] = serve_apps.handlers(
        serve_apps.engine_source(registry, specs[0].name), args, rag=rag)
    return registry, specs, options


def _sagemaker_router(args) -> list:
    """SageMaker's /ping and /invocations with --sagemaker (slmkit.serve.routes_sagemaker)."""
    if not args.sagemaker:
        return []
    from slmkit.serve import routes_sagemaker

    return [routes_sagemaker.router]


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
    """--memory-budget GB in bytes (<= 0: no limit), else what is available now."""
    if args.memory_budget is not None:
        return int(args.memory_budget * 1024**3) if args.memory_budget > 0 else None
    from slmkit.models.hardware import probe

    return probe().available_ram
