"""`slm code complete|review|doc|ask|eval` (docs/apps-ops.md); the work is in
slmkit.apps.code."""

from __future__ import annotations

import argparse
import sys

from slmkit.cli.args import Opt, json_option, options, settings_loading
from slmkit.cli.output import emit, print_json

CODER = "qwen2.5-coder-0.5b-instruct"


def configure(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    c = sub.add_parser("complete", help="complete the code at FILE:LINE[:COL]")
    c.add_argument("position", metavar="FILE:LINE[:COL]",
                   help="where the cursor is (1-based; without COL: the end of the line)")
    options(c, model=Opt(CODER, f"a model with FIM tokens (default {CODER})"), max_tokens=128,
            no_context=Opt(False, "do not add neighbouring files of the repository to the "
                                  "prompt"))
    e = sub.add_parser("eval", help="HumanEval pass@1 and masked-line infilling (sandboxed)")
    options(e, model=Opt(CODER, "(default: %(default)s)"),
            n=Opt(None, "the first N of HumanEval's 164 problems (default: all)", type=int),
            timeout=Opt(10.0, "seconds per test program"))
    model = Opt(CODER, "the coder model", "NAME")
    r = sub.add_parser("review", help="review a file or a unified diff (FILE, .diff/.patch, -)")
    r.add_argument("target", metavar="FILE|DIFF|-")
    options(r, model=model, no_model=Opt(False, "deterministic checks only (no model)"),
            root=Opt(".", "folder the diff's paths are relative to", "DIR"))
    d = sub.add_parser("doc", help="add missing docstrings (Python) as a unified diff")
    d.add_argument("file", metavar="FILE")
    options(d, output=Opt(None, "write the patch here (default: stdout)", "PATCH", short="-o"),
            model=model, private=Opt(False, "also document _private names"))
    a = sub.add_parser("ask", help="answer a question about a repository, citing path:lines")
    a.add_argument("question")
    options(a, repo=Opt(".", "the repository folder", "DIR"), model=model, k=5,
            max_tokens=256, no_update=Opt(False, "do not re-index changed files first"),
            embedder=Opt(None, "embedding model (default: all-minilm-l6-v2-int8)", "NAME"))
    for sp in (c, e, r, d, a):
        settings_loading(sp)
        json_option(sp)


def run(args: argparse.Namespace) -> int:
    return {"eval": _eval, "complete": _complete, "review": _review, "doc": _doc,
            "ask": _ask}[args.action](args)


def _bar(args):
    """Progress bars on a terminal's stderr (not with --json), and ``tick(task)``: the
    library's progress callback for a task."""
    from slmkit.cli.output import Progress

    bar = Progress(enabled=not args.json and sys.stderr.isatty())
    return bar, (lambda task: lambda e: bar(task, e["done"], e["total"]))


def _review(args: argparse.Namespace) -> int:
    from contextlib import nullcontext

    from slmkit.apps.code.review import load, render, review
    from slmkit.cli.common import open_engine

    sources = load(args.target, sys.stdin.read() if args.target == "-" else None, args.root)
    bar, tick = _bar(args)
    with nullcontext() if args.no_model else open_engine(args.model, args) as loaded, bar:
        report = review(loaded and loaded.engine, sources, progress=tick("review"))
    report["model"] = loaded.name if loaded else None
    return emit(args, report, render(report))


def _doc(args: argparse.Namespace) -> int:
    from pathlib import Path

    from slmkit.apps.code.doc import document_file
    from slmkit.apps.llm import Calls
    from slmkit.cli.common import open_engine

    calls, (bar, tick) = Calls(), _bar(args)
    with open_engine(args.model, args) as loaded, bar:
        out = document_file(args.file, loaded.engine, calls=calls, private=args.private,
                            progress=tick("docstrings"))
    if args.output:
        Path(args.output).write_text(out["patch"], encoding="utf-8")
    if args.json:
        return print_json({"model": loaded.name, "calls": calls.to_dict(), **out})
    if not args.output:
        sys.stdout.write(out["patch"])
    sys.stderr.write(f"{len(out['added'])} docstring(s) added, {len(out['skipped'])} "
                     "skipped\n")
    return 0


def _ask(args: argparse.Namespace) -> int:
    from slmkit.cli.common import open_engine
    from slmkit.rag.code_ask import ask_repo, render
    from slmkit.rag.serving import store_embedder

    embedder = store_embedder(args.embedder, pull_missing=not args.no_pull,
                              threads=args.threads or 0)
    bar = _bar(args)[0]
    with open_engine(args.model, args) as loaded, bar:
        out = ask_repo(loaded.engine, embedder, args.repo, args.question, k=args.k,
                       max_tokens=args.max_tokens, update=not args.no_update,
                       progress=lambda task, done, total: bar("index", done, total))
    return emit(args, {"model": loaded.name, **out}, render(out))


def _eval(args: argparse.Namespace) -> int:
    from slmkit.apps.code.evaluate import report, report_text
    from slmkit.cli.common import open_engine

    bar, tick = _bar(args)
    with open_engine(args.model, args) as loaded, bar:
        result = report(loaded.engine, loaded.name, args.n, args.timeout, tick)
    return emit(args, result, report_text(result))


def _complete(args: argparse.Namespace) -> int:
    from slmkit.apps.code.complete import complete_at, parse_position
    from slmkit.cli.common import open_engine

    path, line, col = parse_position(args.position)
    with open_engine(args.model, args) as loaded:
        out = complete_at(loaded.engine, path, line, col, max_tokens=args.max_tokens,
                          context=not args.no_context)
    return emit(args, {"model": loaded.name, **out}, out["completion"].removesuffix("\n"))
