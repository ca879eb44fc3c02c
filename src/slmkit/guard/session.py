"""The guard as a ``core.apps.Masker``: one vault per document, so the apps can mask what
they send to a remote model and restore what comes back without importing the guard."""

from __future__ import annotations

from slmkit.guard.protect import Guard


class MaskSession:
    """``mask(text)`` → placeholders (``<EMAIL_1>``), ``unmask(text)`` → the originals, over
    one vault; ``entities`` lists the types masked so far."""

    def __init__(self, guard: Guard | None = None) -> None:
        self.guard = guard or Guard()
        self.vault = self.guard.new_vault()
        self.entities: set[str] = set()

    def mask(self, text: str) -> str:
        protected = self.guard.protect(text, self.vault)
        self.entities.update(protected.entities)
        return protected.text

    def unmask(self, text: str) -> str:
        return self.guard.unmask(text, self.vault)
