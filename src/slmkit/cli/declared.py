"""Verbs declared by a library request: its :func:`~slmkit.core.options.opt` fields are the
options; ``run()`` does the work and returns a :class:`~slmkit.core.options.Done`."""

from __future__ import annotations

import importlib
import sys

from slmkit.cli.args import Opt, config_from, config_options, options

MULTI_VERB = True
REQUESTS = {  # verb -> module:class
    "keys": "slmkit.edge.keys:KeysRequest",
    "publish": "slmkit.edge.repo:PublishRequest",
    "bundle": "slmkit.edge.bundle_request:BundleRequest",
    "export": "slmkit.export.sagemaker:ExportRequest",
}


def request(verb: str):
    module, _, name = REQUESTS[verb].partition(":")
    return getattr(importlib.import_module(module), name)


def configure(p, verb: str) -> None:
    cls = request(verb)
    config_options(p, cls)
    options(p, json=Opt(False, getattr(cls, "JSON_HELP", "machine-readable JSON output")))
    p.set_defaults(_verb=verb)


def run(args) -> int:
    from slmkit.cli.output import Progress, print_json, quiet, show

    cls = request(args._verb)
    with Progress(enabled=getattr(cls, "PROGRESS", False) and not quiet(args)) as bars:
        done = config_from(args, cls).run(progress=bars)
    if args.json:
        print_json(done.data)
    elif isinstance(done.text, str):
        print(done.text)
    else:
        show(done.text, wide=True)
    if done.note and not args.json:
        print(done.note, file=sys.stderr)
    return done.code
