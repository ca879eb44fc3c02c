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


def run(args: argparse.Namespace) -> int:
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
