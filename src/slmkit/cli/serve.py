"""`slm serve [MODEL ...]`: an OpenAI- and Ollama-compatible HTTP server.

The models named here are loaded at start-up and stay loaded; any other stored model is
loaded on its first request and unloaded after --keep-alive seconds idle, or earlier when
a new model needs the memory (--memory-budget). This module maps the arguments to a
``slmkit.assemble.ServerConfig`` (the wiring lives there) and prints the warnings.
"""

from __future__ import annotations

import sys

from slmkit.assemble.config import SETTINGS_FIELDS as SETTINGS_ARGS
from slmkit.cli.args import Opt, options, upstream
from slmkit.serve.server import banner  # noqa: F401 (the banner `slm serve` prints)

API_KEY_ENV = "SLM_API_KEY"


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
    group = p.add_argument_group("routing (model 'auto') and the privacy guard")
    options(group, route=Opt(None, "serve model 'auto': LOCAL answers first, hard requests go "
                                   "to --upstream", "LOCAL"))
    upstream(group)
    options(group,
            min_mean_logprob=Opt(None, "escalate when the local answer's mean token logprob "
                                       "is below X (default -1.2)", "X", float),
            judge_tokens=Opt(None, "judge the local answer on its first N tokens (default 32)",
                             type=int),
            difficulty=Opt(None, "a difficulty model from `slm route train`: escalate prompts "
                                 "it rates hard before the local model runs", "FILE"),
            max_difficulty=Opt(None, "escalate when p(hard) >= P (default 0.5)", "P", float),
            on_upstream_error=Opt("local", "when the upstream fails: answer locally or return "
                                           "the error", choices=("local", "error")),
            allow_remote_tag=Opt(False, "let clients force an escalation with '#route:remote' "
                                        "in a prompt (off: any client could spend the "
                                        "upstream budget)"),
            budget=Opt("", "escalation limits, e.g. 'requests=500,tokens=200000,cost=5,"
                           "period=day'", "SPEC"),
            prices=Opt(None, "price table {model: [in, out] USD per 1M}", "JSON"),
            ledger=Opt(None, "cost ledger (default: $SLM_HOME/route/ledger.sqlite)", "FILE"),
            guard_policy=Opt("", "guard actions per type, e.g. KR_RRN=block,PERSON=keep_local "
                                 "(for escalations and /v1/guard/*)", "SPEC"))

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
    from slmkit.assemble import ServerConfig, serve

    check_exposure(args.host, api_keys(args))
    return serve(ServerConfig.from_namespace(args))


def ray_app(config: dict):
    """The Ray Serve application of `slm serve ARGV --ray`, for ``serve run`` and KubeRay's
    RayService (``import_path: slmkit.cli.serve:ray_app``, ``args: {argv: [...]}``)."""
    import argparse

    from slmkit.assemble import ServerConfig
    from slmkit.assemble.server import ray_application

    p = argparse.ArgumentParser(prog="slm serve")
    configure(p)
    return ray_application(ServerConfig.from_namespace(
        p.parse_args([*config.get("argv", ()), "--ray"])))
