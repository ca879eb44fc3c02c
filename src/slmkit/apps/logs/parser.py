"""``parse_lines``: raw log lines in, one structured record per event out (JSON-able dicts).

A record: ``{"line", "event_id", "template", "params", "level", "fields", "content",
"extra"}`` — ``extra`` holds an event's continuation lines (stack traces). With a state file
the miner's clusters persist, so a later run (or a restarted stream) keeps the same template
ids and carries on where it stopped. With a ``TemplateCorrector`` the model rewrites each new
template into Loghub's convention (``correct.py``); its answers persist in the same state.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from slmkit.apps.logs.correct import TemplateCorrector, template_regex
from slmkit.apps.logs.drain import Drain
from slmkit.apps.logs.events import Event, LineSplitter
from slmkit.apps.logs.masking import DEFAULT_MASKS
from slmkit.util.files import atomic_write


class LogParser:
    """Lines → events → templates; ``save()`` writes the miner's state when a path is set."""

    def __init__(self, fmt: str = "auto", state: str | Path | None = None,
                 sim_th: float = 0.4, depth: int = 4, masks: tuple[str, ...] = DEFAULT_MASKS,
                 multiline: bool = True, save_every_s: float = 30.0,
                 corrector: TemplateCorrector | None = None) -> None:
        self.state_path = Path(state) if state else None
        self.corrections: dict[str, str] = {}
        if self.state_path is not None and self.state_path.exists():
            saved = _read_state(self.state_path)
            self.drain = Drain.from_dict(saved)
            self.corrections = dict(saved.get("corrections") or {})
        else:
            self.drain = Drain(sim_th=sim_th, depth=depth, masks=masks)
        self.corrector = corrector
        if corrector is not None:  # one cache: the state's answers and the new ones
            corrector.cache.update(self.corrections)
            self.corrections = corrector.cache
        self._rx: dict[str, Any] = {}
        self.splitter = LineSplitter(fmt, multiline=multiline)
        self.save_every_s = save_every_s
        self._saved_at = time.monotonic()

    def record(self, event: Event) -> dict[str, Any]:
        """Mine one event and describe it as a plain dict."""
        cluster, params = self.drain.add(event.content)
        template = cluster.template
        if self.corrector is not None:
            template, params = self._corrected(cluster, template, params, event.content)
        return {
            "line": event.line, "event_id": cluster.event_id, "template": template,
            "params": params, "level": event.level, "fields": event.fields,
            "content": event.content, "extra": event.extra,
        }

    def _corrected(self, cluster, template: str, params: list[str], content: str
                   ) -> tuple[str, list[str]]:
        """The model's template for this cluster and the line's values behind it; Drain's
        own when the correction does not match this line."""
        fixed = self.corrector.correct(template, cluster.examples)
        if fixed == " ".join(template.split()):
            return template, params
        rx = self._rx.get(fixed)
        if rx is None:
            rx = self._rx[fixed] = template_regex(fixed)
        m = rx.fullmatch(content.strip())
        return (fixed, list(m.groups())) if m else (template, params)

    def feed(self, line: str) -> dict[str, Any] | None:
        """One raw line in; a finished event's record out (or None while one is pending)."""
        event = self.splitter.feed(line)
        if event is None:
            return None
        out = self.record(event)
        if self.state_path is not None and time.monotonic() - self._saved_at > self.save_every_s:
            self.save()
        return out

    def flush(self) -> dict[str, Any] | None:
        """The pending event's record (end of input or a pause in a followed file)."""
        event = self.splitter.flush()
        return self.record(event) if event is not None else None

    def new_input(self) -> None:
        """Start numbering lines from 1 again (a new file; templates carry on)."""
        self.flush()
        self.splitter.lineno = 0

    def save(self) -> None:
        """Write the miner's state (atomically) when this parser has a state path."""
        if self.state_path is None:
            return
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        state = self.drain.to_dict()
        if self.corrections:
            state["corrections"] = self.corrections
        atomic_write(self.state_path, json.dumps(state))
        self._saved_at = time.monotonic()

    def templates(self) -> list[dict[str, Any]]:
        """Every template mined so far, biggest first."""
        return [{"event_id": c.event_id, "template": c.template, "count": c.size}
                for c in sorted(self.drain.clusters.values(), key=lambda c: -c.size)]


def _read_state(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f"cannot read the log parser state {path}: {err}; delete it to "
                         "start afresh") from err


def parse_lines(lines: Iterable[str], parser: LogParser | None = None) -> Iterator[dict]:
    """Every event of ``lines`` as a record; the parser's state is saved at the end."""
    parser = parser or LogParser()
    for line in lines:
        rec = parser.feed(line)
        if rec is not None:
            yield rec
    rec = parser.flush()
    if rec is not None:
        yield rec
    parser.save()
