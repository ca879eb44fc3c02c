"""``POST /v1/apps/summarize``: the summarizer as a ``core.apps.AppHandler``.

Payload: ``{"text": "..."}`` or ``{"documents": [{"name", "text" | "content_base64"}]}``
plus ``style``, ``lang``, ``max_words``, ``strategy``, ``model`` (all optional). Answer:
``{"object": "summaries", "results": [...], "errors": [{"document", "error", "hint"}]}``.
"""

from __future__ import annotations

from typing import Any

from slmkit.apps import payload as P
from slmkit.apps.summarize.pipeline import PieceCache, SummaryOptions, summarize
from slmkit.core.apps import EngineSource, Progress


def options(payload: dict[str, Any]) -> SummaryOptions:
    opts = SummaryOptions(style=P.field(payload, "style", str, "bullets"),
                          lang=P.field(payload, "lang", str, "auto"),
                          max_words=P.field(payload, "max_words", int, 120),
                          strategy=P.field(payload, "strategy", str, "auto"),
                          context=P.field(payload, "context", int))
    opts.validate()
    return opts


class SummarizeApp:
    """Summaries of the documents in a payload, with engines lent by ``engines``."""

    name = "summarize"

    def __init__(self, engines: EngineSource, *, cache: PieceCache | None = None) -> None:
        self.engines, self.cache = engines, cache or PieceCache()

    def run(self, payload: dict[str, Any], progress: Progress | None = None) -> dict[str, Any]:
        opts = options(payload)
        model = P.field(payload, "model", str)
        docs, errors = P.documents(payload)
        results = []
        with self.engines(model) as engine:
            for i, doc in enumerate(docs, 1):
                results.append(summarize(doc, engine, opts, cache=self.cache,
                                         progress=progress))
                if progress:
                    progress({"done": i, "total": len(docs), "item": doc.name})
        return {"object": "summaries", "results": results, "errors": errors}
