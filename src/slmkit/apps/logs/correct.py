"""LLM-assisted template correction (LILAC / LLMParser style), cached per template.

Drain groups lines well but spells templates its own way: a token that varies becomes a
whole ``<*>`` (``<*>`` for ``10.2.3.4:50010`` where Loghub writes ``<*>:<*>``, ``<*>`` for
``2,`` where Loghub keeps the comma), and a value that happens to repeat in a sample stays a
constant. After Drain has grouped a cluster, a small model reads a few of its lines and
lists the variable values of the first (JSON-constrained output; asked for a whole template,
a 0.5B model copies a line). Drain's template is refined with them (``refine``): its
wildcards stay, and a value-like variable (digits, a path) inside another token becomes
``<*>`` there (an address with a port ``<*>:<*>``, Loghub's convention). It is accepted only
when it is a template of every line checked (a regex built from it matches each one in full)
and keeps most of Drain's constant words; otherwise Drain's template stays. One model call per distinct Drain template: the answers are cached by it
(and persisted with the parser's state), so calls stay far rarer than lines.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from slmkit.apps.llm import Calls, ask
from slmkit.apps.logs.masking import WILDCARD
from slmkit.core.engine import Engine

#: The answer: the variable values of the first example line, as JSON.
SCHEMA = {"type": "object", "required": ["variables"],
          "properties": {"variables": {"type": "array", "items": {"type": "string"}}}}
MAX_EXAMPLES = 4

SYSTEM = """You read log lines and list their variable values: the parts that change from \
one event to the next (numbers, ids, hex, paths, file names, IP addresses, ports, host \
names, user names, durations, sizes). Words that describe the event are not variables.
Answer in JSON: {"variables": [...]}, each value copied exactly from the FIRST line.

Lines:
Accepted connection from 10.0.3.7:51234 port 22, for user alice
Accepted connection from 192.168.1.20:40022 port 2022, for user bob
Answer: {"variables": ["10.0.3.7:51234", "22", "alice"]}

Lines:
Worker [w-17] finished job 8812 in (312) ms status OK
Answer: {"variables": ["w-17", "8812", "312"]}"""

_HOST_PORT = re.compile(r"[^:\s]*[A-Za-z.][^:\s]*:\d+")  # host or IP, then a port
_CALL = re.compile(r"[A-Za-z_][\w.]*\(\)")
_WORD = re.compile(r"[A-Za-z]{2,}")


def template_regex(template: str) -> re.Pattern:
    """A regex that matches a line of ``template`` in full (``<*>`` any text, any run of
    whitespace for a space)."""
    parts = [re.escape(p) for p in template.strip().split(WILDCARD)]
    pattern = "(.*?)".join(parts)
    pattern = re.sub(r"(?:\\\s|\s)+", r"\\s+", pattern)
    return re.compile(pattern + r"\s*", re.DOTALL)


def fits(template: str, lines: Sequence[str]) -> bool:
    """Whether ``template`` matches every one of ``lines`` in full."""
    rx = template_regex(template)
    return all(rx.fullmatch(line.strip()) is not None for line in lines)


def _constant_words(template: str) -> list[str]:
    return _WORD.findall(template.replace(WILDCARD, " "))


def _variables(raw: str) -> list[str]:
    try:
        values = json.loads(raw).get("variables")
    except (ValueError, AttributeError):
        return []
    return [v for v in values if isinstance(v, str) and v.strip()] if isinstance(values,
                                                                                 list) else []


def _value_like(value: str) -> bool:
    """A number, id, address or path: the model may turn it into ``<*>`` (a small model
    also lists words such as function names, which Drain's grouping has seen constant)."""
    if _CALL.fullmatch(value):  # jk2_init(): a function's name
        return False
    return any(c.isdigit() for c in value) or value.startswith("/")


def refine(template: str, line: str, variables: Sequence[str]) -> str:
    """Drain's ``template`` refined with the model's variable values of ``line`` (one of
    its lines): a token holding a value-like variable gets ``<*>`` where it stands
    (``with_wildcards``: ``2,`` becomes ``<*>,``, ``host:port`` ``<*>:<*>``); the other
    tokens stay as Drain has them, its wildcards included."""
    values = [v for v in variables if _value_like(v)]
    tmpl, raw = template.split(), line.split()
    if len(tmpl) != len(raw):  # a line-wide mask joined tokens: rebuild from the line
        return with_wildcards(line, values)
    out = []
    for t, tok in zip(tmpl, raw):
        inside = [v for v in values if v in tok]
        marked = with_wildcards(tok, inside) if inside else t
        out.append(marked if WILDCARD in marked else t)
    return " ".join(out)


def with_wildcards(line: str, variables: Sequence[str]) -> str:
    """``line`` with each whole occurrence of a variable value as ``<*>`` (an address with
    a port as ``<*>:<*>``, Loghub's convention); whitespace normalised."""
    text = " ".join(line.split())
    for value in sorted({" ".join(v.split()) for v in variables}, key=len, reverse=True):
        mark = f"{WILDCARD}:{WILDCARD}" if _HOST_PORT.fullmatch(value) else WILDCARD
        rx = re.compile(r"(?<![A-Za-z0-9])" + re.escape(value) + r"(?![A-Za-z0-9])")
        parts = re.split(r"(<\*>)", text)  # never rewrite a wildcard already placed
        text = "".join(p if p == WILDCARD else rx.sub(lambda _, m=mark: m, p) for p in parts)
    return text


@dataclass
class CorrectionStats:
    """What the corrector did: model calls, accepted and rejected answers, cache hits."""

    calls: int = 0
    accepted: int = 0
    unchanged: int = 0
    rejected: int = 0
    cache_hits: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """The counts as a plain dict."""
        return dict(self.__dict__)


@dataclass
class TemplateCorrector:
    """Rewrites Drain templates with ``engine`` into Loghub's ``<*>`` convention.

    ``cache`` maps a Drain template to its accepted correction (or itself when the answer
    was rejected); pass the parser state's dict to persist it."""

    engine: Engine
    max_tokens: int = 96
    cache: dict[str, str] = field(default_factory=dict)
    answers: dict[str, str] = field(default_factory=dict)  # the model's raw answers
    stats: CorrectionStats = field(default_factory=CorrectionStats)
    calls: Calls = field(default_factory=Calls)

    def summary(self, lines: int) -> str:
        """One line for people: calls, what came of them, calls per 1,000 lines."""
        s = self.stats
        per = 1000.0 * s.calls / lines if lines else 0.0
        return (f"template correction: {s.calls} model calls ({per:.1f} per 1,000 lines, "
                f"{s.seconds:.1f} s): {s.accepted} accepted, {s.rejected} rejected, "
                f"{s.unchanged} unchanged")

    def prompt(self, examples: Sequence[str]) -> str:
        """The user message for one template's example lines (the rules and worked
        examples are the constant system message, so the engine's prefix cache keeps
        them)."""
        lines = "\n".join(" ".join(e.split())[:300] for e in examples[:MAX_EXAMPLES])
        return f"Lines:\n{lines}\nAnswer:"

    def correct(self, template: str, examples: Sequence[str],
                check: Sequence[str] | None = None) -> str:
        """The corrected template (cached): ``template`` refined with the variables the
        model lists for the first example, when that matches every line of ``check``
        (default: ``examples``); else ``template`` unchanged."""
        hit = self.cache.get(template)
        if hit is not None:
            self.stats.cache_hits += 1
            return hit
        if not examples:
            return template
        start = time.perf_counter()
        raw = ask(self.engine, SYSTEM, self.prompt(examples), max_tokens=self.max_tokens,
                  calls=self.calls, json_schema=SCHEMA)
        self.stats.calls += 1
        self.stats.seconds += time.perf_counter() - start
        self.answers[template] = raw
        answer = refine(template, examples[0], _variables(raw))
        out = self.verify(template, answer, check if check is not None else examples)
        self.cache[template] = out
        return out

    def verify(self, template: str, answer: str, lines: Sequence[str]) -> str:
        """``answer`` when it is an acceptable correction of ``template`` for ``lines``."""
        norm = " ".join(template.split())
        if not answer or answer == norm:
            self.stats.unchanged += 1
            return norm
        kept = len(_constant_words(answer))
        if kept * 2 < len(_constant_words(norm)) or not fits(answer, lines):
            self.stats.rejected += 1
            return norm
        self.stats.accepted += 1
        return answer
