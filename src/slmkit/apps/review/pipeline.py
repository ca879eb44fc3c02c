"""Review one document against a checklist with one Engine (and optionally a remote one
for hand-off). See :func:`review`."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from slmkit.apps import llm
from slmkit.apps.documents import Document
from slmkit.apps.review.checklists import Field
from slmkit.apps.review.clauses import ClauseIndex, clauses
from slmkit.apps.review.extract import ask_field, verify
from slmkit.apps.review.risks import risk_flags
from slmkit.apps.text import detect_language
from slmkit.core.apps import Masker, MaskerFactory
from slmkit.core.engine import Engine
from slmkit.core.options import opt

MODES = ("retrieve", "stuff")
EXTRACTION = ("direct", "free")


@dataclass
class ReviewOptions:
    """``mode``: ``retrieve`` the ``k`` best clauses per field, or ``stuff`` the whole
    document (when it fits; else retrieve, reported). ``extraction``: ``direct`` constrained
    JSON or ``free`` text then extract. ``mask_model``: mask personal data before the main
    engine sees text (set it when that engine is remote). ``mask_report``: personal data
    masked in the report too."""

    lang: str = opt("auto", choices=("auto", "ko", "en"))
    mode: str = opt("retrieve", "read the clauses retrieved per field (default) or the whole "
                                "document", choices=MODES)
    extraction: str = opt("direct", "JSON-constrained answer (default) or free text then "
                                    "extraction", choices=EXTRACTION)
    k: int = 3
    mask_model: bool = False
    mask_report: bool = opt(False, "mask personal data in the report too", flag="masked")

    def validate(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode: one of {', '.join(MODES)}, got {self.mode!r}")
        if self.extraction not in EXTRACTION:
            raise ValueError(f"extraction: one of {', '.join(EXTRACTION)}, got "
                             f"{self.extraction!r}")
        if self.lang not in ("auto", "ko", "en"):
            raise ValueError(f"lang: one of auto, ko, en, got {self.lang!r}")
        if not 1 <= self.k <= 20:
            raise ValueError(f"k: between 1 and 20, got {self.k}")


def _context(doc: Document, index: ClauseIndex, f: Field, opts: ReviewOptions,
             fits: bool) -> str:
    if opts.mode == "stuff" and fits:
        return doc.text
    return "\n\n".join(c.text for c in index.top(f.question, f.keywords, opts.k))


def review(doc: Document, engine: Engine, checklist: list[Field],
           opts: ReviewOptions | None = None, *, upstream: Engine | None = None,
           masker: MaskerFactory | None = None,
           progress: Callable[[dict], None] | None = None) -> dict:
    """``{"fields": {name: {status, value, evidence, location, source}}, "risks": [...],
    ...}``. A field is ``found`` only with evidence found verbatim in ``doc`` that contains
    the value. Fields the local engine leaves not found go to ``upstream`` when given,
    always masked (``source: "upstream"``)."""
    opts = opts or ReviewOptions()
    opts.validate()
    if (opts.mask_model or upstream is not None or opts.mask_report) and masker is None:
        raise ValueError("masking needs a masker (the guard): none was configured")
    t0 = time.perf_counter()
    lang = opts.lang if opts.lang != "auto" else detect_language(doc.text)
    items = clauses(doc)
    index = ClauseIndex(items)
    calls, up_calls = llm.Calls(), llm.Calls()
    session: Masker | None = masker() if masker else None
    n_ctx = engine.info.n_ctx or 4096
    fits = llm.count_tokens(engine, doc.text) + 400 < n_ctx
    fields: dict[str, dict] = {}
    for i, f in enumerate(checklist, 1):
        context = _context(doc, index, f, opts, fits)
        res = {"status": "not_found", "reason": "no clause matches the field"}
        if context.strip():
            value, evidence = ask_field(engine, f.question, context, lang, opts.extraction,
                                        calls, session if opts.mask_model else None)
            res = verify(doc, value, evidence)
        res["source"] = "local"
        if res["status"] != "found" and upstream is not None and context.strip():
            value, evidence = ask_field(upstream, f.question, context, lang, "direct",
                                        up_calls, session)
            up = verify(doc, value, evidence)
            if up["status"] == "found":
                res = up | {"source": "upstream"}
        fields[f.name] = res
        if progress:
            progress({"document": doc.name, "field": f.name, "done": i, "total": len(checklist)})
    report = {"document": doc.name, "language": lang, "fields": fields,
              "risks": risk_flags(doc, items, fields),
              "mode": opts.mode if (opts.mode == "retrieve" or fits) else "retrieve (too long "
              "to stuff)", "extraction": opts.extraction, "model": engine.info.name,
              "handed_off": [n for n, r in fields.items() if r["source"] == "upstream"],
              "usage": calls.to_dict(), "upstream_usage": up_calls.to_dict() if upstream
              else None, "seconds": round(time.perf_counter() - t0, 3),
              "masked": opts.mask_report}
    return _mask_report(report, session) if opts.mask_report and session else report


def _mask_report(report: dict, session: Masker) -> dict:
    for r in report["fields"].values():
        for key in ("value", "evidence", "proposed"):
            if key in r:
                r[key] = session.mask(r[key])
    for flag in report["risks"]:
        if flag.get("clause"):
            flag["clause"] = session.mask(flag["clause"])
    return report
