"""What the CLI lends the HTTP routes, declared once: ``create_app(state={...})`` sets every
field below on ``app.state`` (unset ones to their default), so a route reads
``request.app.state.rag`` and finds the object or None, never a missing attribute. serve
imports none of the packages behind them; the types are ``core`` protocols or serve's own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from slmkit.core.apps import AppHandler, Infiller
from slmkit.core.retrieval import CollectionService


@dataclass
class Lent:
    """The optional services of a server (None or empty: that feature is off)."""

    rag: CollectionService | None = None  # /v1/rag and the UI's collections
    guard: Any = None  # /v1/guard/* (a GuardService, or a util.lazy.Deferred of one)
    infill: Infiller | None = None  # /infill and /v1/completions with a suffix
    apps: Mapping[str, AppHandler] = field(default_factory=dict)  # /v1/apps/{name}
    conversations: Any = None  # the UI's history (serve.conversations.ConversationStore)
    models_admin: Any = None  # the UI's store page (routes_ui_jobs.ModelAdmin)
    operations: Callable[[], dict | None] | None = None  # the UI's routing/guard view
    jobs: Any = None  # the UI's pull/ingest jobs (serve.jobs.JobBoard), made on first use
    sagemaker_model: str | None = None  # the model /invocations answers with (--sagemaker)


def lend(app_state, given: Mapping[str, Any] | None) -> None:
    """Set every :class:`Lent` field on ``app_state`` from ``given`` (defaults for the rest);
    keys :class:`Lent` does not declare are set as they are."""
    given = dict(given or {})
    declared = Lent.__dataclass_fields__
    defaults = vars(Lent(**{k: v for k, v in given.items() if k in declared}))
    for name, value in {**defaults, **given}.items():
        setattr(app_state, name, value)
