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


class TrainingBar:
    """A rich bar on stderr for a training loop: step of total, loss, the latest eval loss
    and tokens/s; silent when disabled. Feed it the loop's rows (``step``, ``loss``,
    ``tokens_per_second``, optional ``total``/``eval_loss``; rows with an ``event`` other
    than ``"step"`` only update the eval loss)."""

    def __init__(self, label: str, *, total: int | None = None, enabled: bool = True) -> None:
        self.label, self.total, self.enabled = label, total, enabled
        self._bar = self._task = self._eval = None

    def __enter__(self) -> TrainingBar:
        if self.enabled:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._bar = Progress(TextColumn(self.label), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.fields[stats]}"), TimeElapsedColumn(),
                                 TimeRemainingColumn(), console=stderr_console())
            self._bar.__enter__()
        return self

    def __call__(self, row: dict) -> None:
        if row.get("eval_loss") is not None:
            self._eval = row["eval_loss"]
        if self._bar is None or row.get("event", "step") != "step":
            return
        if self._task is None:
            self._task = self._bar.add_task(self.label, total=row.get("total", self.total),
                                            stats="")
        stats = f"loss {row['loss']:.4f}"
        if self._eval is not None:
            stats += f" · eval {self._eval:.4f}"
        stats += f" · {row['tokens_per_second']:.0f} tok/s"
        self._bar.update(self._task, completed=row["step"], stats=stats)

    def status(self, message: str) -> None:
        if self._bar is not None:
            self._bar.console.print(f"[dim]{message}[/]")

    def __exit__(self, *exc) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)
