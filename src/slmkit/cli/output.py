"""Shared CLI output: JSON for machines, rich for people, progress bars, numbers as people
read them, errors with hints, exit codes. Every verb may import this module."""

from __future__ import annotations

import dataclasses
import json
import sys
from typing import Any

from slmkit.util.text import format_bytes as format_bytes_decimal

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


class Progress:
    """``progress(task, done, total)`` callbacks drawn as rich bars on stderr."""

    def __init__(self, enabled: bool = True) -> None:
        self._bars = None
        self._tasks: dict[str, int] = {}
        if enabled:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )
            from rich.progress import Progress as Bars

            self._bars = Bars(TextColumn("{task.description}"), BarColumn(),
                              MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn(),
                              console=stderr_console(), transient=True)

    def __enter__(self) -> Progress:
        if self._bars is not None:
            self._bars.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self._bars is not None:
            self._bars.__exit__(*exc)

    def __call__(self, task: str, done: int, total: int) -> None:
        if self._bars is None:
            return
        if task not in self._tasks:
            self._tasks[task] = self._bars.add_task(task, total=total or None)
        self._bars.update(self._tasks[task], completed=done, total=total or None)


class LineProgress:
    """``progress(task, done, total)`` as plain lines for a log or a pipe: the first call of
    each task, then every tenth of its total, then done (no carriage returns, no bars)."""

    def __init__(self, stream) -> None:
        self.stream = stream
        self._shown: dict[str, int] = {}  # task -> last tenth printed

    def __call__(self, task: str, done: int, total: int | None) -> None:
        tenth = min(10, done * 10 // total) if total else 0
        if task in self._shown and tenth <= self._shown[task]:
            return
        self._shown[task] = tenth
        size = f" of {human_size(total)}" if total else ""
        self.stream.write(f"{task}: {tenth * 10}%{size}\n" if total else f"{task}\n")
        self.stream.flush()


# --- numbers as people read them ---------------------------------------------------------------

human_size = format_bytes_decimal  # bytes as people read them: 98.4 MB (slmkit.util.text)


def human_params(n: int | None) -> str:
    """Parameter counts as people say them: 135M, 1.5B."""
    if not n:
        return "-"
    if n >= 1e9:
        return f"{n / 1e9:.1f}B"
    return f"{n / 1e6:.0f}M" if n >= 1e6 else f"{n / 1e3:.0f}K"


def format_bytes(n: int) -> str:
    """``0.1 GB``, ``14.3 GB``; under 0.1 GB in MB (``45 MB``). Decimal units."""
    return f"{n / 1e6:.0f} MB" if n < 100_000_000 else f"{n / 1e9:.1f} GB"


def format_params(n: int) -> str:
    """``135M``, ``1.5B``, ``14.7B`` (999.9M shows as ``1.0B``)."""
    return f"{n / 1e9:.1f}B" if n >= 999_500_000 else f"{n / 1e6:.0f}M"


def format_ctx(n: int) -> str:
    """``8K``, ``128K``; small contexts as the plain number."""
    return f"{n // 1024}K" if n >= 1024 and n % 1024 == 0 else str(n)
