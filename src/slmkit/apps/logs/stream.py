"""The records `slm logs parse` and `slm logs detect` write, one JSON object each, from a
log file or standard input (``report.read_lines``), optionally followed as it grows."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from typing import Any

from slmkit.apps.logs.detect import Detector, detect_lines
from slmkit.apps.logs.parser import LogParser, parse_lines
from slmkit.apps.logs.report import read_lines


def parse_records(path: str, parser: LogParser, *, templates: bool = False
                  ) -> Iterator[dict[str, Any]]:
    """Each event of the log ``path`` ('-': standard input) as a record; with
    ``templates``, the templates with their counts once the whole log is read instead."""
    events = parse_lines(read_lines(path), parser)
    if not templates:
        yield from events
        return
    for _ in events:
        pass
    yield from parser.templates()


def detect_records(path: str, parser: LogParser, detector: Detector, *, follow: bool = False,
                   every: bool = False) -> Iterator[dict[str, Any]]:
    """The anomalies of the log ``path`` (``every``: every event, with its score); with
    ``follow``, the file is read as it grows (like tail -F). The parser's state is saved
    when the records end or the iterator is closed."""
    if follow and path == "-":
        raise ValueError("--follow reads a file; for a pipe, drop --follow "
                         "(e.g. tail -F app.log | slm logs detect -)")
    from slmkit.apps.logs.follow import follow as follow_file

    source = follow_file(path) if follow else read_lines(path)
    return _flagged(detect_lines(source, parser, detector), every)


def _flagged(checked, every: bool) -> Iterator[dict[str, Any]]:
    with closing(checked):
        for out in checked:
            if every or out["anomaly"]:
                yield out


def baseline_text(info: dict[str, Any]) -> str:
    """What was learnt from a baseline (``report.detector``'s counts)."""
    return (f"baseline: {info['lines']} events, {info['templates']} templates, "
            f"threshold {info['threshold']}")
