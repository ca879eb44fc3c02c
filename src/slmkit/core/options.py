"""Self-documenting config fields: a dataclass field made with :func:`opt` carries its
command-line help, so a library config is the one place that describes each parameter
(``slmkit.cli.args.config_options`` turns such fields into options)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field, fields
from typing import Any


def opt(default: Any = None, help: str | None = None, **cli: Any) -> Any:
    """A dataclass field with ``default`` and its command-line declaration: ``help`` plus
    argparse extras (``metavar``, ``type``, ``choices``, ``short``, ``required``, ``action``,
    ``nargs``), ``group`` (the help section) and ``flag`` (the option's name, when it is not
    the field's)."""
    return field(default=default, metadata={"cli": {"help": help, **cli}})


def cli_fields(cls: Any) -> list:
    """The fields of dataclass ``cls`` declared with :func:`opt`, and those holding a config
    whose fields are options too (``metadata={"nested": ConfigClass}``)."""
    return [f for f in fields(cls) if "cli" in f.metadata or "nested" in f.metadata]


def flag_name(f: Any, prefix: str = "") -> str:
    """The option name (underscores) of an :func:`opt` field, after ``prefix``."""
    return prefix + f.metadata["cli"].get("flag", f.name)


@dataclass
class Done:
    """What a request's ``run`` did: ``data`` (JSON), ``text`` for people (a string, a rich
    renderable, a function that prints on a console, or the error to raise when no JSON is
    asked for) and the exit code."""

    data: Any
    text: Any
    code: int = 0


def positive_int(text: str) -> int:
    """An argparse type: a whole number > 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {value}")
    return value


def csv_list(text: str | None) -> tuple[str, ...]:
    """``"a, b,,c"`` → ``("a", "b", "c")``."""
    return tuple(t.strip() for t in (text or "").split(",") if t.strip())
