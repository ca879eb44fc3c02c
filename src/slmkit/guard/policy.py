"""What to do with each entity type before text leaves the site.

- ``mask``: replace with a vault placeholder (the default);
- ``block``: refuse the whole text (:class:`BlockedEntityError` names the type, never the value);
- ``keep_local``: the text may be processed, but only here (a router answers locally);
- ``allow``: let it through unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from slmkit.core.errors import SlmError
from slmkit.guard.base import ENTITIES, LITERAL

MASK, BLOCK, KEEP_LOCAL, ALLOW = "mask", "block", "keep_local", "allow"
ACTIONS = (MASK, BLOCK, KEEP_LOCAL, ALLOW)


class BlockedEntityError(SlmError):
    """Text that holds an entity type the policy blocks. Carries types, never values."""

    code = "guard_blocked"

    def __init__(self, entities: Iterable[str], *, where: str = "") -> None:
        self.entities = tuple(sorted(set(entities)))
        place = f" in {where}" if where else ""
        super().__init__(
            f"blocked by the guard policy: the text{place} contains "
            f"{', '.join(self.entities)}; nothing was sent",
            hint="remove that data, or change the policy for that type "
                 "(e.g. --policy " + f"{self.entities[0]}=mask)")


@dataclass(frozen=True)
class Policy:
    """An action per entity type, ``default`` for the rest."""

    default: str = MASK
    actions: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for entity, action in {**self.actions, "default": self.default}.items():
            if action not in ACTIONS:
                raise ValueError(f"unknown guard action {action!r} for {entity}; "
                                 f"expected one of {', '.join(ACTIONS)}")
            if entity != "default" and entity not in ENTITIES:
                raise ValueError(f"unknown entity type {entity!r}; known: {', '.join(ENTITIES)}")

    def action(self, entity: str) -> str:
        """The action for one entity type (placeholder-like literals are always masked)."""
        if entity == LITERAL:
            return MASK
        return self.actions.get(entity, self.default)

    @classmethod
    def parse(cls, spec: str | None) -> Policy:
        """``"KR_RRN=block,PERSON=keep_local,default=mask"`` → a Policy ("" → defaults)."""
        actions, default = {}, MASK
        for item in filter(None, (s.strip() for s in (spec or "").split(","))):
            entity, sep, action = item.partition("=")
            if not sep:
                raise ValueError(f"bad policy item {item!r}; expected TYPE=ACTION")
            entity, action = entity.strip().upper(), action.strip().lower()
            if entity == "DEFAULT":
                default = action
            else:
                actions[entity] = action
        return cls(default, actions)

    def to_dict(self) -> dict[str, str]:
        return {"default": self.default, **self.actions}
