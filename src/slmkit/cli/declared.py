"""Verbs declared by a library request: its :func:`~slmkit.core.options.opt` fields are the
options; ``run()`` does the work and returns a :class:`~slmkit.core.options.Done`."""

from __future__ import annotations

import importlib

from slmkit.cli.args import Opt, config_from, config_options, options

MULTI_VERB = True
REQUESTS = {  # verb -> module:class
    "pull": "slmkit.models.requests:PullRequest",
    "list": "slmkit.models.requests:ListRequest",
    "show": "slmkit.models.requests:ShowRequest",
    "rm": "slmkit.models.requests:RemoveRequest",
    "verify": "slmkit.models.requests:VerifyRequest",
    "catalog": "slmkit.models.catalog_view:CatalogRequest",
    "config": "slmkit.settings_view:ConfigRequest",
    "optimize": "slmkit.compress.optimize_request:OptimizeRequest",
    "recommend": "slmkit.evaluate.recommend:RecommendRequest",
    "keys": "slmkit.edge.keys:KeysRequest",
    "publish": "slmkit.edge.repo:PublishRequest",
    "bundle": "slmkit.assemble.edge:BundleRequest",  # + the RAG exporter
    "export": "slmkit.export.sagemaker:ExportRequest",
}


def request(verb: str):
    """The request class of ``verb`` (imported now: only the verb being run is)."""
    module, _, name = REQUESTS[verb].partition(":")
    return getattr(importlib.import_module(module), name)


def configure(p, verb: str) -> None:
    cls = request(verb)
    config_options(p, cls)
    options(p, json=Opt(False, getattr(cls, "JSON_HELP", "machine-readable JSON output")))
    p.set_defaults(_verb=verb)


def run(args) -> int:
    """Run the request; ``PROGRESS``: "bars" (counted) or "download" (pull progress)."""
    from slmkit.cli.common import progress_console
    from slmkit.cli.output import Progress, print_json, quiet, stdout_console

    cls = request(args._verb)
    kind = getattr(cls, "PROGRESS", None)
    with Progress(enabled=kind == "bars" and not quiet(args)) as bars:
        done = config_from(args, cls).run(
            progress=progress_console(args) if kind == "download" else bars)
    if args.json:
        print_json(done.data)
    elif isinstance(done.text, Exception):  # a refusal that came back with its numbers
        raise done.text
    elif isinstance(done.text, str):
        print(done.text)
    else:  # a rich renderable, or a function that prints on a console
        con = stdout_console(wide=True)
        done.text(con) if callable(done.text) else con.print(done.text)
    return done.code
