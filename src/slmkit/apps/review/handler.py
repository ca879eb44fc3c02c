"""``POST /v1/apps/review``: the reviewer as a ``core.apps.AppHandler``.

Payload: ``{"text": "..."}`` or ``{"documents": [{"name", "text" | "content_base64"}]}``
plus ``checklist`` (a built-in name: contract, nda, employment — files are not read over
HTTP), ``mode``, ``extraction``, ``lang``, ``mask_report``, ``model``. Answer:
``{"object": "reviews", "results": [...], "errors": [...]}``.
"""

from __future__ import annotations

from typing import Any

from slmkit.apps import payload as P
from slmkit.apps.review.checklists import BUILTIN, load_checklist
from slmkit.apps.review.pipeline import EXTRACTION, MODES, ReviewOptions, review
from slmkit.core.apps import AppForm, EngineSource, FormField, MaskerFactory, Progress
from slmkit.core.engine import Engine


FORM = AppForm(
    "Review a contract", "계약서 검토", "reviews", (
        FormField("text", "document", "Document", "문서", "Paste the contract or choose "
                  "files (PDF, Word, text)", "계약서를 붙여 넣거나 파일을 고르세요 "
                  "(PDF, Word, 텍스트)", required=True),
        FormField("checklist", "choice", "Checklist", "점검표", choices=tuple(BUILTIN),
                  default="contract"),
        FormField("mode", "choice", "Reading", "읽는 방식", "retrieve: the best clauses per "
                  "field; stuff: the whole document", "retrieve: 항목별 관련 조항만, stuff: "
                  "문서 전체", choices=MODES, default="retrieve"),
        FormField("extraction", "choice", "Extraction", "추출 방식", choices=EXTRACTION,
                  default="direct"),
        FormField("lang", "choice", "Language", "언어", choices=("auto", "ko", "en"),
                  default="auto"),
        FormField("mask_report", "boolean", "Mask personal data in the report",
                  "보고서의 개인정보 가리기", default=False),
        FormField("model", "model", "Model", "모델")),
    "Each checklist field with the clause that proves it (highlighted), and risk flags.",
    "점검표 항목마다 근거 조항(강조 표시)과 위험 신호를 보여 줍니다.")


class ReviewApp:
    """Reviews of the documents in a payload; ``upstream`` (a remote Engine) takes the
    fields the local model leaves not found, masked by ``masker``."""

    name = "review"
    form = FORM

    def __init__(self, engines: EngineSource, *, masker: MaskerFactory | None = None,
                 upstream: Engine | None = None) -> None:
        self.engines, self.masker, self.upstream = engines, masker, upstream

    def run(self, payload: dict[str, Any], progress: Progress | None = None) -> dict[str, Any]:
        checklist = P.field(payload, "checklist", str, "contract")
        if checklist not in BUILTIN:
            raise ValueError(f"checklist: one of {', '.join(BUILTIN)}, got {checklist!r}")
        opts = ReviewOptions(mode=P.field(payload, "mode", str, "retrieve"),
                             extraction=P.field(payload, "extraction", str, "direct"),
                             lang=P.field(payload, "lang", str, "auto"),
                             mask_report=P.field(payload, "mask_report", bool, False))
        opts.validate()
        if opts.mask_report and self.masker is None:
            raise ValueError("mask_report: this server has no guard configured")
        model = P.field(payload, "model", str)
        docs, errors = P.documents(payload)
        results = []
        with self.engines(model) as engine:
            for i, doc in enumerate(docs, 1):
                results.append(review(doc, engine, load_checklist(checklist), opts,
                                      upstream=self.upstream, masker=self.masker,
                                      progress=progress))
                if progress:
                    progress({"done": i, "total": len(docs), "item": doc.name})
        return {"object": "reviews", "results": results, "errors": errors}
