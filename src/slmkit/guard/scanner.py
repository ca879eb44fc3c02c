"""The scanner: every recognizer over a text, overlaps resolved, findings sorted."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from slmkit.guard import names, names_ko, patterns, secrets
from slmkit.guard.base import ENTITIES, Finding, Recognizer, resolve_overlaps

DEFAULT_RECOGNIZERS: tuple[Recognizer, ...] = (
    secrets.RECOGNIZERS + patterns.RECOGNIZERS + names.RECOGNIZERS + names_ko.RECOGNIZERS)


class Scanner:
    """Finds identifiers in text. Stateless after construction, so one scanner can be
    shared by every thread.

    ``entities`` limits the types reported (default: all). ``ner`` adds Presidio/spaCy
    person names: ``"auto"`` when such a model is installed, ``False`` never, or a spaCy
    model name. ``min_score`` drops weaker findings.
    """

    def __init__(self, recognizers: Sequence[Recognizer] | None = None, *,
                 entities: Iterable[str] | None = None, ner: bool | str = "auto",
                 min_score: float = 0.5) -> None:
        chosen = set(entities) if entities is not None else set(ENTITIES)
        unknown = chosen - set(ENTITIES)
        if unknown:
            raise ValueError(f"unknown entity types {sorted(unknown)}; "
                             f"known: {', '.join(ENTITIES)}")
        self.entities = frozenset(chosen)
        self.recognizers = tuple(r for r in (recognizers or DEFAULT_RECOGNIZERS)
                                 if r.entity in self.entities)
        self.min_score = min_score
        self.ner = self._ner(ner) if "PERSON" in self.entities else None

    @staticmethod
    def _ner(ner: bool | str) -> names.NerNames | None:
        if ner is False:
            return None
        model = names.installed_ner_model() if ner in ("auto", True) else str(ner)
        return names.NerNames(model) if model else None

    def scan(self, text: str) -> list[Finding]:
        """Non-overlapping findings in ``text``, sorted by start offset."""
        found: list[Finding] = []
        for recognizer in self.recognizers:
            found.extend(f for f in recognizer.find(text) if f.score >= self.min_score)
        if self.ner is not None:
            found.extend(self.ner.find(text))
        return resolve_overlaps(found)


_default: Scanner | None = None


def default_scanner() -> Scanner:
    """A shared scanner with every recognizer (built once)."""
    global _default
    if _default is None:
        _default = Scanner()
    return _default


def scan(text: str) -> list[Finding]:
    """Findings of the default scanner in ``text``."""
    return default_scanner().scan(text)
