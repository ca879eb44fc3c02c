"""Progress on a terminal, drawn with rich (imported only when bars are drawn):
``bars(task, done, total)`` callbacks for long jobs, counted or in bytes, and a bar for a
training loop. A disabled bar is a no-op, so callers need not check."""

from __future__ import annotations

from typing import Any


def _stderr():
    from rich.console import Console

    return Console(stderr=True)


class Bars:
    """``bars(task, done, total)`` callbacks drawn as one rich bar per task on ``console``
    (default stderr); ``units``: ``"count"`` (N/M, elapsed, remaining; cleared when done) or
    ``"bytes"`` (size, speed, remaining). Use as a context manager."""

    def __init__(self, enabled: bool = True, *, console: Any = None,
                 units: str = "count") -> None:
        self._bars = None
        self._tasks: dict[str, Any] = {}
        if enabled:
            from rich import progress as rp

            if units == "bytes":
                columns = (rp.SpinnerColumn(), rp.TextColumn("{task.description}"),
                           rp.BarColumn(), rp.DownloadColumn(), rp.TransferSpeedColumn(),
                           rp.TimeRemainingColumn())
            else:
                columns = (rp.TextColumn("{task.description}"), rp.BarColumn(),
                           rp.MofNCompleteColumn(), rp.TimeElapsedColumn(),
                           rp.TimeRemainingColumn())
            self._bars = rp.Progress(*columns, console=console or _stderr(),
                                     transient=units != "bytes")

    def __enter__(self) -> Bars:
        if self._bars is not None:
            self._bars.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self._bars is not None:
            self._bars.__exit__(*exc)

    def __call__(self, task: str, done: int, total: int | None) -> None:
        if self._bars is None:
            return
        if task not in self._tasks:
            self._tasks[task] = self._bars.add_task(task, total=total or None)
        self._bars.update(self._tasks[task], completed=done, total=total or None)


class TrainingBar:
    """A bar on stderr for a training loop: step of total, loss, the latest eval loss and
    tokens/s. Feed it the loop's rows (``step``, ``loss``, ``tokens_per_second``, optional
    ``total``/``eval_loss``; rows with an ``event`` other than ``"step"`` only update the
    eval loss)."""

    def __init__(self, label: str, *, total: int | None = None, enabled: bool = True) -> None:
        self.label, self.total, self.enabled = label, total, enabled
        self._bar = self._task = self._eval = None

    def __enter__(self) -> TrainingBar:
        if self.enabled:
            from rich import progress as rp

            self._bar = rp.Progress(
                rp.TextColumn(self.label), rp.BarColumn(), rp.MofNCompleteColumn(),
                rp.TextColumn("{task.fields[stats]}"), rp.TimeElapsedColumn(),
                rp.TimeRemainingColumn(), console=_stderr())
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


class LineProgress:
    """``progress(task, done, total)`` as plain lines for a log or a pipe: the first call of
    each task, then every tenth of its total, then done (no carriage returns, no bars)."""

    def __init__(self, stream) -> None:
        self.stream = stream
        self._shown: dict[str, int] = {}  # task -> last tenth printed

    def __call__(self, task: str, done: int, total: int | None) -> None:
        from slmkit.util.text import format_bytes

        tenth = min(10, done * 10 // total) if total else 0
        if task in self._shown and tenth <= self._shown[task]:
            return
        self._shown[task] = tenth
        size = f" of {format_bytes(total)}" if total else ""
        self.stream.write(f"{task}: {tenth * 10}%{size}\n" if total else f"{task}\n")
        self.stream.flush()
