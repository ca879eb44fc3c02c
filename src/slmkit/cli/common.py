"""Arguments shared by the verbs that open a model, mapped onto ``slmkit.models.load``
(resolving, the memory check and loading live there) and ``slmkit.models.upstream``."""

from __future__ import annotations

import argparse
import sys

from slmkit.models.upstream import names_its_model  # noqa: F401 (verbs with --upstream)


def resolve_model(spec: str | None, args: argparse.Namespace, backend: str = "auto"):
    """``slmkit.models.load.resolve`` with --no-pull and a progress bar on a terminal."""
    from slmkit.models.load import resolve

    return resolve(spec, backend=backend, pull=not args.no_pull,
                   progress=progress_console(args))


def open_engine(spec: str | None, args: argparse.Namespace, backend: str = "auto"):
    """``slmkit.models.load.load`` with --ctx, --threads, --verbose and --no-pull, as a
    ``LoadedModel`` (the engine and the model's name and prompt defaults)."""
    from slmkit.models.load import LoadedModel, load

    model = resolve_model(spec, args, backend)
    return LoadedModel(load(model, n_ctx=args.ctx, n_threads=args.threads,
                            verbose=args.verbose), model)


def open_upstream(args: argparse.Namespace, tokenizer=None):
    """The remote engine of ``cli.args.upstream``'s flags (``models.upstream.Upstream``)."""
    from slmkit.models.upstream import Upstream

    return Upstream.from_options(args).open(tokenizer)


def progress_console(args: argparse.Namespace):
    """Where pulls report progress: bars on a terminal's stderr, a line per tenth on a
    non-terminal stderr (logs, CI), nowhere with --json (`slm chat` has no --json)."""
    if getattr(args, "json", False):
        return None
    from slmkit.cli.output import LineProgress, stderr_console

    return stderr_console() if sys.stderr.isatty() else LineProgress(sys.stderr)


def run_on_documents(args: argparse.Namespace, items: list, work, show) -> int:
    """The document apps' loop: open --model only when some file was read, ``work(engine,
    doc)`` for each document with a progress bar (several files, a terminal, no --json),
    ``show(result)`` as each comes (or all as JSON), unreadable files named on stderr.
    Exit 1 when any file failed, after the others were processed."""
    from contextlib import nullcontext

    from slmkit.apps.documents import DocumentError, run_each
    from slmkit.cli.output import Progress, print_json

    bar = Progress(enabled=len(items) > 1 and not args.json and sys.stderr.isatty())
    some = any(not isinstance(docs, DocumentError) for _, docs in items)
    with open_engine(args.model, args) if some else nullcontext() as loaded, bar:
        results, errors = run_each(
            items, lambda doc: work(loaded.engine, doc), on_result=None if args.json else show,
            on_error=lambda err: print(f"error: {err}", file=sys.stderr),
            progress=lambda i, n: bar("documents", i, n))
    if args.json:
        print_json({"results": results, "errors": errors})
    return 1 if errors else 0
