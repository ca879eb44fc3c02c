"""Shared CLI output: JSON for machines, rich for people, progress bars, numbers as people
read them, errors with hints, exit codes. Every verb may import this module."""

from __future__ import annotations

import json
import sys
from typing import Any

from slmkit.util.progress import Bars as Progress
from slmkit.util.progress import LineProgress, TrainingBar  # noqa: F401 (verbs use them)
from slmkit.util.text import format_bytes as human_size  # noqa: F401 (98.4 MB, 14.3 GB)
from slmkit.util.text import format_ctx, format_params, to_jsonable  # noqa: F401 (135M)
from slmkit.util.text import format_memory as format_bytes  # noqa: F401

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def quiet(args) -> bool:
    """No progress or status lines: --json, or stderr is not a terminal."""
    return args.json or not sys.stderr.isatty()


def status(args, message: str) -> None:
    """A dim status line on stderr, unless :func:`quiet`."""
    if not quiet(args):
        stderr_console().print(f"[dim]{message}[/]", highlight=False)


def warn(message: str) -> None:
    """A yellow line on stderr (always: warnings matter in scripts too)."""
    stderr_console().print(f"[yellow]{message}[/]", highlight=False)


def progress(args) -> Progress:
    """Progress bars on stderr, unless :func:`quiet`."""
    return Progress(enabled=not quiet(args))


def emit(args, obj: Any, text: Any) -> int:
    """``obj`` as JSON with --json, else ``text`` on stdout: a string, or a function that
    prints on the rich console (``lambda con: print_hits(con, hits)``); returns 0."""
    if args.json:
        return print_json(obj)
    if callable(text):
        text(stdout_console())
    else:
        print(text)
    return EXIT_OK


def table(*columns: str, rows=(), **kw: Any):
    """A rich table with these column headers and rows (cells become strings)."""
    from rich.table import Table

    t = Table(*columns, **kw)
    for row in rows:
        t.add_row(*("-" if c is None else str(c) for c in row))
    return t


def show(renderable: Any, *, wide: bool = False) -> int:
    """Print a rich renderable (a table, markup text) on stdout; returns 0."""
    stdout_console(wide=wide).print(renderable, highlight=False)
    return EXIT_OK


def print_json(obj: Any) -> int:
    """Print ``obj`` as JSON on stdout; returns 0 so a verb can ``return print_json(x)``."""
    json.dump(to_jsonable(obj), sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
    sys.stdout.flush()
    return EXIT_OK


def stdout_console(*, wide: bool = False):
    """Rich console on stdout; ``wide``: piped output is not cut at 80 columns."""
    from rich.console import Console

    con = Console()
    if wide and not con.is_terminal:
        con.width = 240
    return con


def stderr_console():
    from rich.console import Console

    return Console(stderr=True)


def run_guarded(fn, args) -> int:
    """Run a verb; turn our errors into a message + hint on stderr (or JSON) and exit 1."""
    from slmkit.core.errors import SlmError

    try:
        return int(fn(args) or 0)
    except SlmError as err:
        if getattr(args, "json", False):  # verbs without --json (chat, serve) print text
            print_json(err.to_dict())
        else:
            from rich.markup import escape  # only on this path: rich costs a cold start

            con = stderr_console()
            # soft_wrap: never cut a name or digest the user may need to copy
            con.print(f"[bold red]error:[/] {escape(err.message)}", highlight=False,
                      soft_wrap=True)
            if err.hint:
                con.print(f"[dim]hint:[/] {escape(err.hint)}", highlight=False, soft_wrap=True)
        return EXIT_ERROR
    except ValueError as err:
        sys.stderr.write(f"error: {err}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:
        sys.stderr.write("\ninterrupted\n")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_OK
    except OSError as err:  # a file that exists, is missing or is not ours to write
        sys.stderr.write(f"error: {err}\n")
        return EXIT_ERROR

