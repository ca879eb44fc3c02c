"""Personal data leaked to the upstream, counted without a model: the review is run with a
local stand-in that finds nothing, so every field of the checklist is handed off, and with
the whole document as each field's context (``stuff``), so every line of it is exposed to
the masker; a recording upstream keeps every text the review sends it. The leak count is
the number of planted values that reach the upstream in any request (target 0).

Used by ``slm review eval`` and ``benchmarks/review.py`` on the labelled contracts whose
``labels.json`` entry lists its planted ``personal_data``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from slmkit.apps.documents import Document
from slmkit.apps.review.checklists import Field
from slmkit.apps.review.pipeline import ReviewOptions, review
from slmkit.core.apps import MaskerFactory
from slmkit.core.engine import Capabilities, ModelInfo
from slmkit.core.types import Chunk, GenerateRequest, Usage

NOTHING = json.dumps({"value": "not found", "evidence": ""})


class Recorder:
    """A stand-in engine (the parts of ``core.Engine`` the review uses) that answers
    "not found" to every field and keeps the text of every message it is sent."""

    def __init__(self, name: str, n_ctx: int = 1 << 20) -> None:
        self.info = ModelInfo(name=name, architecture="recorder", n_ctx=n_ctx,
                              capabilities=Capabilities(grammar=True))
        self.sent: list[str] = []

    def generate(self, request: GenerateRequest) -> Iterator[Chunk]:
        self.sent.append("\n".join(m.content for m in request.messages or []
                                   if isinstance(m.content, str)))
        return iter([Chunk(NOTHING, finish_reason="stop", usage=Usage())])

    def tokenize(self, text: str, *, add_special: bool = True) -> list[int]:
        return [0] * len(text.split())

    def close(self) -> None:
        self.sent.clear()


def pii_leaks(doc: Document, checklist: list[Field], planted: list[str],
              masker: MaskerFactory) -> dict:
    """``{"pii_planted", "pii_leaks", "pii_leaked", "upstream_requests"}`` for ``doc``: which
    of the ``planted`` personal data values reached the upstream, masked by ``masker``."""
    missing = [p for p in planted if p not in doc.text]
    if missing:
        raise ValueError(f"{doc.name}: personal_data not in the document: {missing}")
    local, upstream = Recorder("local stand-in"), Recorder("recording upstream")
    review(doc, local, checklist, ReviewOptions(mode="stuff"), upstream=upstream,
           masker=masker)
    leaked = sorted({p for text in upstream.sent for p in planted if p in text})
    return {"pii_planted": len(planted), "pii_leaks": len(leaked), "pii_leaked": leaked,
            "upstream_requests": len(upstream.sent)}
