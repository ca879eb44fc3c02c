"""Shared CLI output: JSON for machines, rich for people, errors with hints, exit codes."""

from __future__ import annotations

import dataclasses
import json
import sys
from typing import Any

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def add_json_flag(parser) -> None:
    parser.add_argument("--json", action="store_true", help="machine-readable JSON output")


def to_jsonable(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {k: to_jsonable(v) for k, v in dataclasses.asdict(obj).items()}
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if hasattr(obj, "to_dict"):
        return to_jsonable(obj.to_dict())
    return obj


def print_json(obj: Any) -> None:
    json.dump(to_jsonable(obj), sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
    sys.stdout.flush()


def stdout_console():
    from rich.console import Console

    return Console()


def stderr_console():
    from rich.console import Console

    return Console(stderr=True)


def run_guarded(fn, args) -> int:
    """Run a verb; turn our errors into a message + hint on stderr (or JSON) and exit 1."""
    from rich.markup import escape

    from slmkit.core.errors import SlmError

    try:
        return int(fn(args) or 0)
    except SlmError as err:
        if getattr(args, "json", False):
            print_json(err.to_dict())
        else:
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
