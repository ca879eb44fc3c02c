"""`slm config [show|path|init]`: the effective settings and where each came from.

Parsing and printing only; :mod:`slmkit.settings` reads the environment and the file.
"""

from __future__ import annotations

import argparse

from slmkit.cli.args import Opt, json_option, options


def configure(p: argparse.ArgumentParser) -> None:
    """``action`` (show, path, init), ``--force`` and ``--json``."""
    p.add_argument("action", nargs="?", default="show", choices=["show", "path", "init"],
                   help="show: every setting, its value and origin (default); path: the "
                        "config file's path; init: write a commented template there")
    options(p, force=Opt(False, "init: overwrite an existing file"))
    json_option(p)


def run(args: argparse.Namespace) -> int:
    """Print the settings (table or JSON), the file's path, or write the template."""
    from slmkit import settings
    from slmkit.cli.output import emit, print_json

    path = settings.get_settings().config_path
    if args.action == "path":
        return emit(args, {"path": str(path), "exists": path.is_file()}, str(path))
    if args.action == "init":
        path = settings.write_template(force=args.force)
        return emit(args, {"path": str(path), "written": True}, f"wrote {path}")
    items = settings.effective()
    if args.json:
        return print_json({"config_file": str(path), "exists": path.is_file(),
                           "settings": {e.name: _as_json(e) for e in items}})
    return _table(items, path)


def _as_json(item) -> dict:
    return {"value": item.shown(), "origin": item.origin, "env": list(item.env),
            "key": item.file_key, "help": item.help}


def _table(items, path) -> int:
    from rich.markup import escape
    from rich.table import Table

    from slmkit.cli.output import show

    state = "" if path.is_file() else " (not present: `slm config init` writes a template)"
    table = Table(title=f"settings — {path}{state}", title_justify="left")
    table.add_column("setting", no_wrap=True)
    table.add_column("value", overflow="fold")
    table.add_column("from", no_wrap=True)
    table.add_column("environment", overflow="fold")
    for item in items:
        value = item.shown()
        shown = "[dim]unset[/]" if value is None else escape(str(value))
        kind, _, where = item.origin.partition(":")
        env = " / ".join(f"[bold]{n}[/]" if kind == "env" and n == where else n
                         for n in item.env)
        table.add_row(item.file_key or item.name, shown,
                      "[dim]default[/]" if kind == "default" else kind, env)
    return show(table)
