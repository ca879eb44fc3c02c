"""`slm code`: complete (fill-in-the-middle at FILE:LINE[:COL]), review a file or a diff,
add missing docstrings as a patch, ask about a repository, evaluate (HumanEval).

    slm code complete src/app.py:42 --model qwen2.5-coder-0.5b-instruct
    git diff | slm code review - --json
    slm code doc src/app.py -o docs.diff
    slm code ask "where is the config parsed?" --repo .
"""

from __future__ import annotations

import argparse
import re
import sys

from slmkit.cli.common import add_model_args
from slmkit.cli.output import add_json_flag, print_json

_POS = re.compile(r"^(?P<file>.+?):(?P<line>\d+)(?::(?P<col>\d+))?$")


def configure(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    c = sub.add_parser("complete", help="complete the code at FILE:LINE[:COL]")
    c.add_argument("position", metavar="FILE:LINE[:COL]",
                   help="where the cursor is (1-based; without COL: the end of the line)")
    c.add_argument("--model", default="qwen2.5-coder-0.5b-instruct",
                   help="a model with FIM tokens (default qwen2.5-coder-0.5b-instruct)")
    c.add_argument("--max-tokens", type=int, default=128)
    c.add_argument("--no-context", action="store_true",
                   help="do not add neighbouring files of the repository to the prompt")
    add_model_args(c)
    add_json_flag(c)
    e = sub.add_parser("eval", help="HumanEval pass@1 and masked-line infilling (sandboxed)")
    e.add_argument("--model", default="qwen2.5-coder-0.5b-instruct")
    e.add_argument("--n", type=int, default=None,
                   help="the first N of HumanEval's 164 problems (default: all)")
    e.add_argument("--timeout", type=float, default=10.0, help="seconds per test program")
    add_model_args(e)
    add_json_flag(e)
    _configure_more(sub)


def _configure_more(sub) -> None:
    from slmkit.cli.args import Opt, options

    model = Opt("qwen2.5-coder-0.5b-instruct", "the coder model", "NAME")
    r = sub.add_parser("review", help="review a file or a unified diff (FILE, .diff/.patch, -)")
    r.add_argument("target", metavar="FILE|DIFF|-")
    options(r, model=model, no_model=Opt(False, "deterministic checks only (no model)"),
            root=Opt(".", "folder the diff's paths are relative to", "DIR"))
    d = sub.add_parser("doc", help="add missing docstrings (Python) as a unified diff")
    d.add_argument("file", metavar="FILE")
    d.add_argument("-o", "--output", metavar="PATCH", help="write the patch here (default: "
                   "stdout)")
    options(d, model=model, private=Opt(False, "also document _private names"))
    a = sub.add_parser("ask", help="answer a question about a repository, citing path:lines")
    a.add_argument("question")
    options(a, repo=Opt(".", "the repository folder", "DIR"), model=model, k=5,
            max_tokens=256, no_update=Opt(False, "do not re-index changed files first"),
            embedder=Opt(None, "embedding model (default: all-minilm-l6-v2-int8)", "NAME"))
    for sp in (r, d, a):
        add_model_args(sp)
        add_json_flag(sp)


def run(args: argparse.Namespace) -> int:
    return {"eval": _eval, "complete": _complete, "review": _review, "doc": _doc,
            "ask": _ask}[args.action](args)


def _bar(args, task: str):
    from slmkit.cli.output import Progress

    bar = Progress(enabled=not args.json and sys.stderr.isatty())
    return bar, (lambda e: bar(task, e["done"], e["total"]))


def _review(args: argparse.Namespace) -> int:
    from slmkit.apps.code.review import load, render, review
    from slmkit.cli.common import open_engine
    from slmkit.cli.output import emit

    sources = load(args.target, sys.stdin.read() if args.target == "-" else None, args.root)
    loaded = None if args.no_model else open_engine(args.model, args)
    bar, tick = _bar(args, "review")
    try:
        with bar:
            report = review(loaded and loaded.engine, sources, progress=tick)
    finally:
        if loaded:
            loaded.engine.close()
    report["model"] = loaded.name if loaded else None
    return emit(args, report, render(report))


def _doc(args: argparse.Namespace) -> int:
    from pathlib import Path

    from slmkit.apps.code.doc import document, model_writer
    from slmkit.apps.llm import Calls
    from slmkit.cli.common import open_engine
    from slmkit.cli.output import print_json

    try:
        text = Path(args.file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ValueError(f"cannot read {args.file}: {err}") from None
    loaded, calls = open_engine(args.model, args), Calls()
    bar, tick = _bar(args, "docstrings")
    try:
        with bar:
            out = document(args.file, text, model_writer(loaded.engine, calls),
                           private=args.private, progress=tick)
    finally:
        loaded.engine.close()
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
    from slmkit.cli.output import emit
    from slmkit.rag.code_ask import ask_repo, render
    from slmkit.rag.serving import store_embedder

    embedder = store_embedder(args.embedder, pull_missing=not args.no_pull,
                              threads=args.threads or 0)
    loaded = open_engine(args.model, args)
    bar = _bar(args, "index")[0]
    try:
        with bar:
            out = ask_repo(loaded.engine, embedder, args.repo, args.question, k=args.k,
                           max_tokens=args.max_tokens, update=not args.no_update,
                           progress=lambda task, done, total: bar("index", done, total))
    finally:
        loaded.engine.close()
    return emit(args, {"model": loaded.name, **out}, render(out))


def _eval(args: argparse.Namespace) -> int:
    from slmkit.apps.code.evaluate import humaneval, infilling
    from slmkit.cli.common import open_engine
    from slmkit.cli.output import Progress

    loaded = open_engine(args.model, args)
    try:
        with Progress(enabled=not args.json and sys.stderr.isatty()) as bar:
            tick = (lambda task: lambda e: bar(task, e["done"], e["total"]))
            fill = infilling(loaded.engine, args.n, args.timeout, tick("infilling"))
            he = humaneval(loaded.engine, args.n, args.timeout, tick("HumanEval"))
    finally:
        loaded.engine.close()
    report = {"model": loaded.name, "humaneval": {k: v for k, v in he.items() if k != "rows"},
              "infilling": fill["by_kind"]}
    if args.json:
        return print_json(report)
    print(f"HumanEval pass@1 {he['pass@1']:.3f} ({he['passed']}/{he['problems']} problems; "
          "published 0.5B-Instruct: 0.616)")
    for kind, m in fill["by_kind"].items():
        print(f"infilling {kind:6s} exact match {m['exact_match']:.3f}  pass {m['pass']:.3f} "
              f"({m['tasks']} tasks)")
    return 0


def _complete(args: argparse.Namespace) -> int:
    from slmkit.apps.code.complete import complete_at
    from slmkit.cli.common import open_engine

    m = _POS.match(args.position)
    if m is None:
        raise ValueError(f"position {args.position!r} is not FILE:LINE[:COL], e.g. app.py:42:9")
    loaded = open_engine(args.model, args)
    try:
        out = complete_at(loaded.engine, m["file"], int(m["line"]),
                          int(m["col"]) if m["col"] else None, max_tokens=args.max_tokens,
                          context=not args.no_context)
    finally:
        loaded.engine.close()
    if args.json:
        return print_json({"model": loaded.name, **out})
    sys.stdout.write(out["completion"])
    if not out["completion"].endswith("\n"):
        sys.stdout.write("\n")
    return 0
