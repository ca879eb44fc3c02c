"""`slm code complete FILE:LINE[:COL]`: fill in the code at a position, with the model's
fill-in-the-middle tokens (a coder model such as qwen2.5-coder-0.5b-instruct).

    slm code complete src/app.py:42 --model qwen2.5-coder-0.5b-instruct
    slm code complete src/app.py:42:9 --json
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


def run(args: argparse.Namespace) -> int:
    return _eval(args) if args.action == "eval" else _complete(args)


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
