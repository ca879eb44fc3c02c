"""`slm serve [MODEL ...]`: an OpenAI- and Ollama-compatible HTTP server.

The models named here are loaded at start-up and stay loaded; any other stored model is
loaded on its first request and unloaded after --keep-alive seconds idle, or earlier when
a new model needs the memory (--memory-budget). This module maps the arguments to a
``slmkit.assemble.ServerConfig`` (the wiring lives there) and prints the warnings.
"""

from __future__ import annotations

import sys

from slmkit.assemble.config import SETTINGS_FIELDS as SETTINGS_ARGS
from slmkit.cli.args import config_from, config_options, upstream
from slmkit.serve.server import banner  # noqa: F401 (the banner `slm serve` prints)


def configure(p) -> None:
    from slmkit.assemble.config import ROUTING, ServerConfig

    p.add_argument("models", nargs="*", metavar="MODEL",
                   help="models to load at start-up (default: setting model.default, else the "
                        "catalog's default model)")
    p.set_defaults(_settings_args=SETTINGS_ARGS)  # None: filled from the settings before run()
    p.epilog = ("Unset options take their value from the environment, then "
                "$SLM_HOME/config.toml (see `slm config`).")
    upstream(config_options(p, ServerConfig)[ROUTING])


def config(args):
    """The ``ServerConfig`` of the parsed arguments."""
    from slmkit.assemble import ServerConfig
    from slmkit.models.upstream import Upstream

    return config_from(args, ServerConfig, models=args.models,
                       upstream=Upstream.from_options(args))


def run(args) -> int:
    from slmkit.assemble import serve
    from slmkit.serve.auth import check_exposure

    c = config(args)
    for warning in check_exposure(c.host, c.keys()):  # refusals raise ValueError
        print(f"warning: {warning}", file=sys.stderr)
    return serve(c)


def ray_app(argv: dict):
    """The Ray Serve application of `slm serve ARGV --ray`, for ``serve run`` and KubeRay's
    RayService (``import_path: slmkit.cli.serve:ray_app``, ``args: {argv: [...]}``)."""
    import argparse

    from slmkit.assemble.server import ray_application

    p = argparse.ArgumentParser(prog="slm serve")
    configure(p)
    return ray_application(config(p.parse_args([*argv.get("argv", ()), "--ray"])))
