"""LLM-assisted template correction (LILAC / LLMParser style), cached per template.

Drain groups lines well but spells templates its own way: a token that varies becomes a
whole ``<*>`` (``<*>`` for ``10.2.3.4:50010`` where Loghub writes ``<*>:<*>``, ``<*>`` for
``2,`` where Loghub keeps the comma), and a value that happens to repeat in a sample stays a
constant. After Drain has grouped a cluster, a small model rewrites the cluster's template
from a few of its lines into Loghub's convention. The answer is grammar-constrained to one
line and accepted only when it is still a template of every example line (a regex built from
it matches each one in full) and keeps most of Drain's constant text; otherwise Drain's
template stays. One model call per distinct Drain template: the answers are cached by it
(and persisted with the parser's state), so calls stay far rarer than lines.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from slmkit.apps.llm import Calls, ask
from slmkit.apps.logs.masking import WILDCARD
from slmkit.core.engine import Engine

#: One line of text: the model writes the template and nothing else.
GRAMMAR = r"root ::= [^\n]+"
MAX_EXAMPLES = 4

SYSTEM = """You rewrite log templates. A template is a log line with every variable part \
replaced by <*>.
Rules:
- A value that changes between lines (number, id, hex, path, file name, address, host, \
user, duration, size) is <*>.
- An address with a port is <*>:<*>. A value in brackets or parentheses keeps the \
brackets: [<*>], (<*>).
- Punctuation next to a value stays: "<*>," or "<*>;".
- Words that are the same in every line stay exactly as written.
Answer with the template only, on one line.

Template: Accepted connection from <*> port <*> for user <*>
Lines:
Accepted connection from 10.0.3.7:51234 port 22, for user alice
Accepted connection from 192.168.1.20:40022 port 2022, for user bob
Answer: Accepted connection from <*>:<*> port <*>, for user <*>

Template: Worker <*> finished job in <*> ms status OK
Lines:
Worker [w-17] finished job in (312) ms status OK
Worker [w-3] finished job in (48) ms status OK
Answer: Worker [<*>] finished job in (<*>) ms status OK

Template: Disk sda1 usage 93 percent
Lines:
Disk sda1 usage 93 percent
Answer: Disk <*> usage <*> percent"""

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


def _clean(answer: str) -> str:
    text = answer.strip()
    for prefix in ("Answer:", "Template:"):
        if text.startswith(prefix):
            text = text[len(prefix):].strip()
    if len(text) > 1 and text[0] == text[-1] and text[0] in "`'\"":
        text = text[1:-1].strip()
    return " ".join(text.split())


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
    answers: dict[str, str] = field(default_factory=dict)  # what the model said, kept or not
    stats: CorrectionStats = field(default_factory=CorrectionStats)
    calls: Calls = field(default_factory=Calls)

    def summary(self, lines: int) -> str:
        """One line for people: calls, what came of them, calls per 1,000 lines."""
        s = self.stats
        per = 1000.0 * s.calls / lines if lines else 0.0
        return (f"template correction: {s.calls} model calls ({per:.1f} per 1,000 lines, "
                f"{s.seconds:.1f} s): {s.accepted} accepted, {s.rejected} rejected, "
                f"{s.unchanged} unchanged")

    def prompt(self, template: str, examples: Sequence[str]) -> str:
        """The user message for one template (the rules and worked examples are the
        constant system message, so the engine's prefix cache keeps them)."""
        lines = "\n".join(" ".join(e.split())[:300] for e in examples[:MAX_EXAMPLES])
        return f"Template: {template.strip()}\nLines:\n{lines}\nAnswer:"

    def correct(self, template: str, examples: Sequence[str],
                check: Sequence[str] | None = None) -> str:
        """The corrected template (cached): the model's answer when it matches every line
        of ``check`` (default: ``examples``), else ``template`` unchanged."""
        hit = self.cache.get(template)
        if hit is not None:
            self.stats.cache_hits += 1
            return hit
        if not examples:
            return template
        start = time.perf_counter()
        answer = _clean(ask(self.engine, SYSTEM, self.prompt(template, examples),
                            max_tokens=self.max_tokens, calls=self.calls, grammar=GRAMMAR))
        self.stats.calls += 1
        self.stats.seconds += time.perf_counter() - start
        self.answers[template] = answer
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
