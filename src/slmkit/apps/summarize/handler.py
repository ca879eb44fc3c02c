"""``POST /v1/apps/summarize``: the summarizer as a ``core.apps.AppHandler``.

Payload: ``{"text": "..."}`` or ``{"documents": [{"name", "text" | "content_base64"}]}``
plus ``style``, ``lang``, ``max_words``, ``strategy``, ``model`` (all optional). Answer:
``{"object": "summaries", "results": [...], "errors": [{"document", "error", "hint"}]}``.
"""

from __future__ import annotations

from typing import Any

from slmkit.apps import payload as P
from slmkit.apps.summarize.pipeline import STRATEGIES, PieceCache, SummaryOptions, summarize
from slmkit.apps.summarize.prompts import STYLES
from slmkit.core.apps import AppForm, EngineSource, FormField, Progress

FORM = AppForm(
    "Summarize", "요약", "summaries", (
        FormField("text", "document", "Document", "문서", "Paste text or choose files "
                  "(PDF, Word, e-mail, text)", "텍스트를 붙여 넣거나 파일을 고르세요 "
                  "(PDF, Word, 메일, 텍스트)", required=True),
        FormField("style", "choice", "Style", "형식", choices=STYLES, default="bullets"),
        FormField("lang", "choice", "Language of the summary", "요약 언어",
                  choices=("auto", "ko", "en"), default="auto"),
        FormField("max_words", "number", "Length (words)", "길이 (단어 수)", default=120,
                  minimum=10, maximum=2000),
        FormField("strategy", "choice", "Long documents", "긴 문서 처리", choices=STRATEGIES,
                  default="auto"),
        FormField("model", "model", "Model", "모델")),
    "A summary with its key facts traced to the source, action items and unsupported "
    "claims flagged.", "원문에서 찾은 근거가 붙은 핵심 사실, 할 일, 근거 없는 주장 표시가 "
    "있는 요약입니다.")


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
    form = FORM

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
