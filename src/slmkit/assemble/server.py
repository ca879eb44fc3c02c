"""`slm serve` as a library call: the store loader, ``rag:`` and routed models, adapters,
the guard, the apps and the web UI's services wired over ``slmkit.serve``, which imports
none of them (they reach it through ``create_app``'s ``routers=``/``state=``).

    from slmkit.assemble import ServerConfig, serve
    serve(ServerConfig(models=["qwen2.5-0.5b-instruct"], port=8001, rag=["docs"]))
"""

from __future__ import annotations

import functools

from slmkit.assemble.config import AUTO, ServerConfig


def serve(config: ServerConfig) -> int:
    """Serve until stopped (through Ray Serve with ``config.ray``); 1 when the server
    never started. Raises ``ValueError`` on options that do not fit together."""
    from slmkit.serve import server

    config.check()
    server.setup_logging(config.log_level)
    if config.ray:
        from slmkit.scale.ray_serve import serve_cli

        return serve_cli(config, functools.partial(compose, config), load_options(config))
    early = _early_load(config)  # before the server's modules import: the two overlap
    try:
        return server.run(*compose(config, early=early))
    finally:
        if early is not None:
            early.discard()


def _early_load(config: ServerConfig):
    """The first start-up model, loading on a thread while the server imports and builds
    (``serve.loader.EarlyLoad``), when nothing but the store decides how it loads (no
    route, no adapters)."""
    if config.route or config.adapter:
        return None
    from slmkit.serve.loader import EarlyLoad

    return EarlyLoad((config.models or [None])[0], load_options(config))


def ray_application(config: ServerConfig):
    """The Ray Serve application of ``config`` (for ``serve run`` and KubeRay)."""
    from slmkit.scale.ray_serve import build

    return build(config, functools.partial(compose, config), load_options(config))[0]


def load_options(config: ServerConfig):
    """How every model is opened (``slmkit.serve.loader.LoadOptions``)."""
    from slmkit.serve.loader import LoadOptions

    return LoadOptions(n_ctx=config.ctx, n_threads=config.threads, n_parallel=config.parallel,
                       max_queue=config.queue, n_gpu_layers=config.gpu_layers or 0,
                       draft=config.draft,
                       verbose=config.verbose, pull=not config.no_pull)


def compose(config: ServerConfig, base_loader=None, early=None):
    """The registry, start-up models and server options over ``base_loader`` (default: the
    model store; Ray Serve gives its model deployments' loader): what ``serve.server.run``
    takes. Fails fast, before binding, on a missing model or collection. ``early``: the
    first start-up model, already loading (``serve.loader.EarlyLoad``)."""
    from slmkit.assemble import apps, routing
    from slmkit.rag.serving import RagModels, rag_service  # rag:COLLECTION, /v1/rag
    from slmkit.serve import routes_apps, routes_guard, routes_infill, routes_rag, server
    from slmkit.serve.loader import StoreLoader
    from slmkit.serve.prefixed import PrefixLoader
    from slmkit.serve.registry import engine_source
    from slmkit.util.lazy import Deferred, LazyMapping

    config.check()
    store_loader = base_loader or StoreLoader(load_options(config), early=early)
    rag = rag_service(config.rag_home)
    rag_models = RagModels(rag, config.rag_model)
    loader = PrefixLoader(store_loader, rag_models)
    for collection in config.rag:
        rag.retriever(collection)
    if config.route:  # the model "auto": LOCAL first, escalations to the upstream
        loader = routing.routing_loader(loader, config)
    specs = [loader.resolve(n, from_cli=True)
             for n in config.models or [AUTO if config.route else None]]
    if not config.rag_model and config.models:  # the name it is served as (a path is not)
        rag_models.base = specs[0].name
    store_loader.adapters = _adapter_table(config, specs[0].name)
    options = server.ServerOptions(
        host=config.host, port=config.port, api_keys=config.keys(),
        cors_origins=config.cors_origin, allowed_hosts=config.allowed_host,
        max_body_bytes=config.max_body_bytes, keep_alive=config.keep_alive,
        memory_budget=config.memory_bytes(), queue=config.queue,
        request_timeout=config.request_timeout,
        routers=[routes_rag.router, routes_guard.router, routes_apps.router,
                 routes_infill.router, *_sagemaker_router(config)],
        state={"rag": rag,  # the guard and the apps are built on first use (cold start)
               "guard": Deferred(functools.partial(routing.guard_service, config.guard_policy)),
               "infill": apps.infiller(specs[0].name), "sagemaker_model": specs[0].name,
               **_ui_state(config)})
    registry = server.registry(loader, specs, options, store_loader=store_loader)
    options.state["apps"] = LazyMapping(functools.partial(
        apps.handlers, engine_source(registry, specs[0].name), rag=rag))
    return registry, specs, options


def _sagemaker_router(config: ServerConfig) -> list:
    """SageMaker's /ping and /invocations (slmkit.serve.routes_sagemaker)."""
    if not config.sagemaker:
        return []
    from slmkit.serve import routes_sagemaker

    return [routes_sagemaker.router]


def _ui_state(config: ServerConfig) -> dict:
    """What the web UI's routes use: conversations under $SLM_HOME/ui, the model store,
    and the last day of the routing ledger (routing decisions, costs, guard counts)."""
    import time

    from slmkit.models.admin import StoreAdmin
    from slmkit.route.ledger import default_path
    from slmkit.route.report import operations
    from slmkit.serve.conversations import ConversationStore
    from slmkit.settings import get_settings

    ledger = config.ledger or default_path()
    return {"conversations": ConversationStore(get_settings().home / "ui" /
                                               "conversations.sqlite"),
            "models_admin": StoreAdmin(),
            "operations": lambda: operations(ledger, since=time.time() - 86400)}


def _adapter_table(config: ServerConfig, default_base: str | None):
    """The NAME=PATH / BASE+NAME=PATH adapters as the table the loader serves."""
    if not config.adapter:
        return None
    from slmkit.adapt.serving import AdapterTable, parse_adapter_arg

    return AdapterTable([parse_adapter_arg(a) for a in config.adapter], default_base)
