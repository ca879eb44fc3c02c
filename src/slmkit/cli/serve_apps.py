"""`slm serve`'s apps (``/v1/apps/...``): wiring only. Builds the ``{name: AppHandler}``
mapping that ``serve/routes_apps.py`` mounts, each app lending engines from the server's
model registry (so apps and chat share the loaded models)."""

from __future__ import annotations

import argparse

from slmkit.serve.registry import engine_source  # noqa: F401 (cli/serve.py wires it)


def handlers(engines, args: argparse.Namespace) -> dict:
    """Every app's handlers by HTTP name (``summarize``, ``logs/detect``, …). Each app adds
    its builder below (imported lazily)."""
    from slmkit.apps.review.handler import ReviewApp
    from slmkit.apps.summarize.handler import SummarizeApp
    from slmkit.guard.session import MaskSession

    found: dict = {}
    from slmkit.apps.logs.service import handlers as logs_handlers

    found.update(logs_handlers(engines))
    for app in (SummarizeApp(engines), ReviewApp(engines, masker=MaskSession)):
        found[app.name] = app
    return found


def infiller(default_model: str):
    """Fill-in-the-middle for ``/infill`` and ``/v1/completions`` with ``suffix``."""
    from slmkit.apps.code.fim import FimInfiller

    return FimInfiller(default_model)
