"""Arguments shared by the verbs that open a model, mapped onto ``slmkit.models.load``
(resolving, the memory check and loading live there), and sampling flags → requests."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from typing import Any

# verbs written before cli/args.py call these names
from slmkit.cli.args import sampling as add_sampling_args  # noqa: F401
from slmkit.cli.args import settings_loading as add_model_args  # noqa: F401


@dataclass
class Loaded:
    """An open engine and the model it is (name, backend, catalog prompt defaults)."""

    engine: Any
    model: Any  # slmkit.models.load.ResolvedModel

    @property
    def name(self) -> str:
        return self.model.name

    @property
    def prompt_defaults(self) -> dict:
        return dict(self.model.prompt_defaults)

    def __enter__(self) -> Loaded:
        return self

    def __exit__(self, *exc: object) -> None:
        self.engine.close()


def resolve_model(spec: str | None, args: argparse.Namespace, backend: str = "auto"):
    """``slmkit.models.load.resolve`` with --no-pull and a progress bar on a terminal."""
    from slmkit.models.load import resolve

    return resolve(spec, backend=backend, pull=not args.no_pull,
                   progress=progress_console(args))


def open_engine(spec: str | None, args: argparse.Namespace, backend: str = "auto") -> Loaded:
    """``slmkit.models.load.load`` with --ctx, --threads, --verbose and --no-pull."""
    from slmkit.models.load import load

    model = resolve_model(spec, args, backend)
    return Loaded(load(model, n_ctx=args.ctx, n_threads=args.threads,
                       verbose=args.verbose), model)


def names_its_model(spec: str | None) -> bool:
    """Whether an --upstream spec names its model itself (bedrock:MODEL_ID,
    sagemaker:ENDPOINT), so that --upstream-model is not needed."""
    from slmkit.runtime import split_upstream

    return bool(spec) and split_upstream(spec)[0] != "remote"


def open_upstream(args: argparse.Namespace, tokenizer=None):
    """The remote engine of ``cli.args.upstream``'s flags (``tokenizer``: the local model's,
    to count tokens the upstream is sent)."""
    from slmkit.models.load import load
    from slmkit.runtime import split_upstream

    backend, target = split_upstream(args.upstream)
    if backend != "remote":  # bedrock:MODEL_ID / sagemaker:ENDPOINT, the AWS credential chain
        return load(target, backend=backend, region=args.region, n_ctx=args.upstream_ctx,
                    timeout=args.upstream_timeout)
    return load(target, backend="remote", model=args.upstream_model,
                api_key_env=args.upstream_key_env, api_key_file=args.upstream_key_file,
                n_ctx=args.upstream_ctx, timeout=args.upstream_timeout, tokenizer=tokenizer)


def progress_console(args: argparse.Namespace):
    """Where pulls report progress: bars on a terminal's stderr, a line per tenth on a
    non-terminal stderr (logs, CI), nowhere with --json (`slm chat` has no --json)."""
    if getattr(args, "json", False):
        return None
    from slmkit.cli.output import LineProgress, stderr_console

    return stderr_console() if sys.stderr.isatty() else LineProgress(sys.stderr)


def sampling_from_args(args: argparse.Namespace, defaults: dict):
    """The command line's sampling flags over the model's catalog defaults."""
    from slmkit.core.types import SamplingParams

    return SamplingParams.layered(vars(args), defaults, args.seed)


def system_prompt(args: argparse.Namespace, defaults: dict) -> str | None:
    """The user's --system, else the catalog's per-model default (None = template default)."""
    if args.system is not None:
        return args.system
    return defaults.get("system")


def print_stats(loaded: Loaded, usage, load_seconds: float) -> None:
    from slmkit.cli.output import stderr_console

    e = loaded.engine
    stderr_console().print(
        f"[dim]{loaded.name}: load {load_seconds:.2f} s · prompt {usage.prompt_tokens} tok "
        f"({usage.cached_tokens} cached) at {usage.prompt_tokens_per_second:.0f} tok/s · "
        f"decode {usage.completion_tokens} tok at {usage.decode_tokens_per_second:.1f} tok/s · "
        f"{e.n_threads} threads[/]", highlight=False, soft_wrap=True)


def run_on_documents(args: argparse.Namespace, items: list, work, show) -> int:
    """The document apps' loop: open --model only when some file was read, ``work(engine,
    doc)`` for each document with a progress bar (several files, a terminal, no --json),
    ``show(result)`` as each comes (or all as JSON), unreadable files named on stderr.
    Exit 1 when any file failed, after the others were processed."""
    from slmkit.apps.documents import DocumentError, run_each
    from slmkit.cli.output import Progress, print_json

    loaded = open_engine(args.model, args) if any(
        not isinstance(docs, DocumentError) for _, docs in items) else None
    try:
        with Progress(enabled=len(items) > 1 and not args.json and sys.stderr.isatty()) as bar:
            results, errors = run_each(
                items, lambda doc: work(loaded.engine, doc),
                on_result=None if args.json else show,
                on_error=lambda err: print(f"error: {err}", file=sys.stderr),
                progress=lambda i, n: bar("documents", i, n))
    finally:
        if loaded is not None:
            loaded.engine.close()
    if args.json:
        print_json({"results": results, "errors": errors})
    return 1 if errors else 0
