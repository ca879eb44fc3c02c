"""`slm config [show|path|init]`: the effective settings (:mod:`slmkit.settings`), where each
came from, as a table or JSON; the config file's path; a commented template."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from slmkit import settings
from slmkit.core.options import Done, opt


@dataclass
class ConfigRequest:
    """Show the settings, print the file's path, or write the template there."""

    action: str = opt("show", "show: every setting, its value and origin (default); path: the "
                              "config file's path; init: write a commented template there",
                      choices=("show", "path", "init"), nargs="?", positional=True)
    force: bool = opt(False, "init: overwrite an existing file")

    def run(self, progress=None) -> Done:
        path = settings.get_settings().config_path
        if self.action == "path":
            return Done({"path": str(path), "exists": path.is_file()}, str(path))
        if self.action == "init":
            path = settings.write_template(force=self.force)
            return Done({"path": str(path), "written": True}, f"wrote {path}")
        items = settings.effective()
        return Done({"config_file": str(path), "exists": path.is_file(),
                     "settings": {e.name: as_json(e) for e in items}}, table(items, path))


def as_json(item: settings.Effective) -> dict:
    return {"value": item.shown(), "origin": item.origin, "env": list(item.env),
            "key": item.file_key, "help": item.help}


def table(items: list[settings.Effective], path) -> Any:
    """The settings as a rich table: name, value, origin, environment variables (the one
    that set the value in bold)."""
    from rich.markup import escape
    from rich.table import Table

    state = "" if path.is_file() else " (not present: `slm config init` writes a template)"
    t = Table(title=f"settings — {path}{state}", title_justify="left")
    t.add_column("setting", no_wrap=True)
    t.add_column("value", overflow="fold")
    t.add_column("from", no_wrap=True)
    t.add_column("environment", overflow="fold")
    for item in items:
        value = item.shown()
        shown = "[dim]unset[/]" if value is None else escape(str(value))
        kind, _, where = item.origin.partition(":")
        env = " / ".join(f"[bold]{n}[/]" if kind == "env" and n == where else n
                         for n in item.env)
        t.add_row(item.file_key or item.name, shown,
                  "[dim]default[/]" if kind == "default" else kind, env)
    return t
