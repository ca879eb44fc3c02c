"""From raw log lines to events: header formats, multi-line grouping, severity.

An *event* is one log record: its first line plus any continuation lines (a Java stack trace's
``\\tat ...`` and ``Caused by:`` lines, a Python traceback). Header fields (time, level, ...)
come from a Loghub-style format string (``<Date> <Time> <Level> <Component>: <Content>``), a
preset name, or ``auto`` (a leading timestamp and the first severity word are recognised;
the rest of the line is the content).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# Loghub-2k formats (logpai/logparser benchmark settings), lowercase preset names.
PRESETS: dict[str, str] = {
    "hdfs": "<Date> <Time> <Pid> <Level> <Component>: <Content>",
    "hadoop": r"<Date> <Time> <Level> \[<Process>\] <Component>: <Content>",
    "spark": "<Date> <Time> <Level> <Component>: <Content>",
    "bgl": "<Label> <Timestamp> <Date> <Node> <Time> <NodeRepeat> <Type> <Component> <Level> "
           "<Content>",
    "hpc": "<LogId> <Node> <Component> <State> <Time> <Flag> <Content>",
    "thunderbird": r"<Label> <Timestamp> <Date> <User> <Month> <Day> <Time> <Location> "
                   r"<Component>(\[<PID>\])?: <Content>",
    "linux": r"<Month> <Date> <Time> <Level> <Component>(\[<PID>\])?: <Content>",
    "healthapp": r"<Time>\|<Component>\|<Pid>\|<Content>",
    "apache": r"\[<Time>\] \[<Level>\] <Content>",
    "openstack": r"<Logrecord> <Date> <Time> <Pid> <Level> <Component> \[<ADDR>\] <Content>",
    "syslog": r"<Month> <Day> <Time> <Host> <Component>(\[<PID>\])?: <Content>",
}

LEVELS = {"TRACE": 0, "DEBUG": 0, "INFO": 1, "NOTICE": 1, "WARN": 2, "WARNING": 2,
          "ERR": 3, "ERROR": 3, "SEVERE": 3, "FAILURE": 3, "FAILED": 3, "CRIT": 4,
          "CRITICAL": 4, "FATAL": 4, "ALERT": 4, "EMERG": 4, "PANIC": 4}
_LEVEL_RX = re.compile(r"\b(" + "|".join(sorted(LEVELS, key=len, reverse=True)) + r")\b",
                       re.IGNORECASE)
_AUTO_TS = re.compile(
    r"^\s*\[?(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?"
    r"|[A-Z][a-z]{2} +\d{1,2} \d{2}:\d{2}:\d{2}|\d{2}/\d{2}/\d{2,4} \d{2}:\d{2}:\d{2})\]?\s+")
_CONTINUATION = re.compile(
    r"^(?:\s+\S|Caused by:|Traceback \(most recent call last\):|During handling of the above"
    r"|The above exception was|\.\.\. \d+ more|\s*$)")
_EXCEPTION_END = re.compile(r"^[\w.]+(?:Error|Exception|Exit|Interrupt)\b")


@dataclass
class Event:
    """One log record: where it starts, its header fields, content and continuation lines."""

    line: int
    raw: str
    content: str
    fields: dict[str, str] = field(default_factory=dict)
    extra: list[str] = field(default_factory=list)

    @property
    def level(self) -> str | None:
        """The severity word (``ERROR``, ``WARN``, ...) from the header or content, if any."""
        lvl = (self.fields.get("Level") or "").upper()
        if lvl in LEVELS:
            return lvl
        m = _LEVEL_RX.search(self.raw[:200])
        return m.group(1).upper() if m else None


def format_regex(fmt: str) -> re.Pattern:
    """A Loghub-style format string as a regex with one named group per ``<Field>``."""
    fmt = PRESETS.get(fmt.lower(), fmt)
    parts = re.split(r"(<[^<>]+>)", fmt)
    out = []
    for i, part in enumerate(parts):
        if part.startswith("<") and part.endswith(">"):
            name = part[1:-1]
            spaced = i + 1 < len(parts) and parts[i + 1][:1] == " "
            body = ".*" if name == "Content" else r"\S+" if spaced else ".*?"
            out.append(f"(?P<{name}>{body})")
        else:
            out.append(re.sub(" +", r"\\s+", part))
    if "(?P<Content>" not in "".join(out):
        raise ValueError(f"log format {fmt!r} has no <Content> field; e.g. "
                         "'<Date> <Time> <Level> <Component>: <Content>'")
    return re.compile("^" + "".join(out) + "$")


class LineSplitter:
    """Turns lines into events: header fields split off, continuation lines attached."""

    def __init__(self, fmt: str = "auto", multiline: bool = True) -> None:
        self.fmt = fmt
        self._rx = None if fmt == "auto" else format_regex(fmt)
        self.multiline = multiline
        self._pending: Event | None = None
        self._in_traceback = False
        self.lineno = 0

    def _start(self, text: str) -> Event:
        if self._rx is None:
            m = _AUTO_TS.match(text)
            fields = {"Time": m.group(1)} if m else {}
            content = text[m.end():] if m else text
            return Event(self.lineno, text, content.strip(), fields)
        m = self._rx.match(text)
        if m is None:  # lines off the format keep their whole text as content
            return Event(self.lineno, text, text.strip())
        fields = {k: v for k, v in m.groupdict().items() if k != "Content" and v is not None}
        return Event(self.lineno, text, m.group("Content").strip(), fields)

    def _continues(self, text: str) -> bool:
        if not self.multiline or self._pending is None:
            return False
        if _CONTINUATION.match(text):
            if text.startswith("Traceback"):
                self._in_traceback = True
            return True
        if self._in_traceback and _EXCEPTION_END.match(text):
            self._in_traceback = False
            return True
        return False

    def feed(self, line: str) -> Event | None:
        """One line in; the previous event out when this line starts a new one."""
        self.lineno += 1
        text = line.rstrip("\r\n")
        if self._continues(text):
            if text.strip():
                self._pending.extra.append(text)
            return None
        done, self._pending = self._pending, None
        self._in_traceback = False
        if text.strip():
            self._pending = self._start(text)
        return done

    def flush(self) -> Event | None:
        """The event still waiting for continuation lines (end of input, or a quiet stream)."""
        done, self._pending = self._pending, None
        self._in_traceback = False
        return done
