"""`slm config [show|path|init]`: the effective settings and where each came from.

Parsing and printing only; :mod:`slmkit.settings` reads the environment and the file.
"""

from __future__ import annotations

import argparse

from slmkit.cli.output import add_json_flag


def configure(p: argparse.ArgumentParser) -> None:
    """``action`` (show, path, init), ``--force`` and ``--json``."""
    p.add_argument("action", nargs="?", default="show", choices=["show", "path", "init"],
                   help="show: every setting, its value and origin (default); path: the "
                        "config file's path; init: write a commented template there")
    p.add_argument("--force", action="store_true", help="init: overwrite an existing file")
    add_json_flag(p)


def run(args: argparse.Namespace) -> int:
    """Print the settings (table or JSON), the file's path, or write the template."""
    from slmkit import settings

    path = settings.get_settings().config_path
    if args.action == "path":
        _print(args, {"path": str(path), "exists": path.is_file()}, str(path))
        return 0
    if args.action == "init":
        return _init(args, path, settings.template())
    items = settings.effective()
    if args.json:
        from slmkit.cli.output import print_json

        print_json({"config_file": str(path), "exists": path.is_file(),
                    "settings": {e.name: _as_json(e) for e in items}})
        return 0
    _table(items, path)
    return 0


def _init(args: argparse.Namespace, path, text: str) -> int:
    if path.exists() and not args.force:
        raise ValueError(f"{path} exists; pass --force to overwrite it")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    _print(args, {"path": str(path), "written": True}, f"wrote {path}")
    return 0


def _print(args: argparse.Namespace, obj: dict, text: str) -> None:
    if args.json:
        from slmkit.cli.output import print_json

        print_json(obj)
    else:
        print(text)


def _as_json(item) -> dict:
    return {"value": item.shown(), "origin": item.origin, "env": list(item.env),
            "key": item.file_key, "help": item.help}


def _table(items, path) -> None:
    from rich.markup import escape
    from rich.table import Table

    from slmkit.cli.output import stdout_console

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
    stdout_console().print(table)
