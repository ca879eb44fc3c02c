"""The apps a server offers at ``/v1/apps/...`` and its fill-in-the-middle: the
``{name: AppHandler}`` mapping that ``serve/routes_apps.py`` mounts, each app lending
engines from the server's model registry (so apps and chat share the loaded models)."""

from __future__ import annotations


def handlers(engines, rag=None) -> dict:
    """Every app's handlers by HTTP name (``summarize``, ``logs/detect``, …). ``rag``: the
    server's collections service (its embedders serve ``code/ask``; without it,
    ``code/ask`` is not offered)."""
    from slmkit.apps.code.handler import CodeDocApp, CodeReviewApp
    from slmkit.apps.logs.service import handlers as logs_handlers
    from slmkit.apps.review.handler import ReviewApp
    from slmkit.apps.summarize.handler import SummarizeApp
    from slmkit.guard.session import MaskSession

    found: dict = dict(logs_handlers(engines))
    apps = [SummarizeApp(engines), ReviewApp(engines, masker=MaskSession),
            CodeReviewApp(engines), CodeDocApp(engines)]
    if rag is not None:
        from slmkit.rag.code_ask import CodeAskApp

        apps.append(CodeAskApp(engines, rag.embedder, home=rag.home))
    for app in apps:
        found[app.name] = app
    return found


def infiller(default_model: str):
    """Fill-in-the-middle for ``/infill`` and ``/v1/completions`` with ``suffix``."""
    from slmkit.apps.code.fim import FimInfiller

    return FimInfiller(default_model)
