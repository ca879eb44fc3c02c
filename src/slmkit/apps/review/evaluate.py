"""Evaluate the reviewer on labelled documents (``labels.json`` beside them: per file its
checklist and, per field, the expected value — ``null`` when the document does not state
it — and a piece of text the evidence span must overlap).

Per field: exact match (normalized), token F1, evidence-span accuracy; hallucinations are
values reported found whose evidence is not verbatim in the document or does not contain
the value (target 0); ``rejected`` counts model proposals the verifier turned into "not
found"; with a masker, ``pii_leaks`` counts the planted personal data (``personal_data``
in ``labels.json``) that would reach an upstream (:mod:`slmkit.apps.review.leaks`)."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Collection
from pathlib import Path

from slmkit.apps.documents import Document, read_path
from slmkit.apps.review.checklists import Field, load_checklist
from slmkit.apps.review.leaks import pii_leaks
from slmkit.apps.review.pipeline import ReviewOptions, review
from slmkit.apps.text import words
from slmkit.core.apps import MaskerFactory
from slmkit.core.engine import Engine
from slmkit.util.files import append_row, read_rows


def _norm(s: str) -> str:
    return re.sub(r"[\W_]+", " ", s.lower()).strip()


def f1(pred: str, gold: str) -> float:
    p, g = words(pred), words(gold)
    common = sum(min(p.count(w), g.count(w)) for w in set(p))
    if not common:
        return 0.0
    prec, rec = common / len(p), common / len(g)
    return 2 * prec * rec / (prec + rec)


def score_document(text: str, report: dict, labels: dict) -> dict:
    n = exact = ev_ok = halluc = wrong_found = rejected = 0
    f1s = []
    for name, gold in labels.items():
        got = report["fields"].get(name, {})
        found = got.get("status") == "found"
        rejected += "proposed" in got
        if found and (got["evidence"] not in text or not got.get("value")):
            halluc += 1
        if gold.get("value") is None:
            wrong_found += found
            continue
        n += 1
        value = got.get("value", "") if found else ""
        exact += _norm(value) == _norm(gold["value"])
        f1s.append(f1(value, gold["value"]) if found else 0.0)
        if found:
            g = text.find(gold["evidence"])
            loc = got["location"]
            ev_ok += g >= 0 and loc["start"] < g + len(gold["evidence"]) and g < loc["end"]
    return {"fields": n, "exact": exact, "f1_sum": sum(f1s), "evidence_ok": ev_ok,
            "hallucinated": halluc, "found_but_absent": wrong_found, "rejected": rejected,
            "found": sum(r.get("status") == "found" for r in report["fields"].values())}


def evaluate(folder: str | Path, engine: Engine | None, opts: ReviewOptions,
             cache: str | Path | None = None, only: Collection[str] | None = None,
             masker: MaskerFactory | None = None) -> dict:
    """Scores summed over the labelled documents of ``folder`` (those named in ``only``),
    and per document. With ``cache`` (a JSON-lines file), documents scored in an earlier
    run are reused and each new one is appended as soon as it is scored, so an interrupted
    run resumes; ``engine`` may be None when every document is cached. With ``masker``,
    the personal data leak count of each document with planted ``personal_data`` (no model
    runs for it, so cached documents get it too)."""
    folder = Path(folder)
    done = read_rows(cache, "document") if cache else {}
    per, total, seconds = {}, {}, 0.0
    for name, spec in documents(folder):
        if only is not None and name not in only:
            continue
        row = done.get(name)
        if row is None:
            if engine is None:
                raise ValueError(f"{name} is not cached and no engine was given")
            row = _score_one(folder / name, spec, engine, opts)
            if cache:
                append_row(cache, row)
        seconds += row.pop("seconds")
        per[name] = {k: v for k, v in row.items() if k != "document"}
        if masker is not None and spec.get("personal_data"):
            doc, checklist = _load(folder / name, spec)
            per[name] |= pii_leaks(doc, checklist, spec["personal_data"], masker)
        for k, v in per[name].items():
            if not isinstance(v, list):
                total[k] = total.get(k, 0) + v
    n = max(1, total.get("fields", 0))
    docs = max(1, len(per))
    return {"exact_match": total.get("exact", 0) / n, "f1": total.get("f1_sum", 0) / n,
            "evidence_accuracy": total.get("evidence_ok", 0) / n,
            "hallucinated": total.get("hallucinated", 0),
            "found_but_absent": total.get("found_but_absent", 0),
            "rejected_by_verifier": total.get("rejected", 0),
            "seconds_per_doc": seconds / docs, "documents": len(per),
            "pii_planted": total.get("pii_planted") if masker else None,
            "pii_leaks": total.get("pii_leaks") if masker else None, "per_document": per}


def documents(folder: str | Path) -> list[tuple[str, dict]]:
    """``(file name, label spec)`` of the labelled documents, in ``labels.json`` order."""
    labels = json.loads((Path(folder) / "labels.json").read_text(encoding="utf-8"))
    return [(name, spec) for name, spec in labels.items() if not name.startswith("_")]


def leak_count(folder: str | Path, masker: MaskerFactory) -> dict:
    """The personal data leak count of every labelled document of ``folder`` with planted
    ``personal_data`` (no model runs): totals and ``per_document``."""
    folder = Path(folder)
    per = {name: pii_leaks(*_load(folder / name, spec), spec["personal_data"], masker)
           for name, spec in documents(folder) if spec.get("personal_data")}
    return {"pii_planted": sum(r["pii_planted"] for r in per.values()),
            "pii_leaks": sum(r["pii_leaks"] for r in per.values()), "per_document": per}


def _load(path: Path, spec: dict) -> tuple[Document, list[Field]]:
    [doc] = read_path(path)
    checklist = spec["checklist"]  # a built-in name, or a YAML file beside the documents
    if (path.parent / checklist).is_file():
        checklist = str(path.parent / checklist)
    return doc, load_checklist(checklist)


def _score_one(path: Path, spec: dict, engine: Engine, opts: ReviewOptions) -> dict:
    doc, checklist = _load(path, spec)
    t0 = time.perf_counter()
    report = review(doc, engine, checklist, opts)
    seconds = time.perf_counter() - t0
    return score_document(doc.text, report, spec["fields"]) | {
        "risks": [r["kind"] for r in report["risks"]], "seconds": seconds,
        "document": path.name}



def evaluation(data: str, engine: Engine, model: str, opts: ReviewOptions,
               masker: MaskerFactory | None = None) -> tuple[dict, str]:
    """`slm review eval`: the scores on the labelled folder ``data``, as JSON and as text
    (with ``masker``, the personal data leak count too)."""
    from slmkit.apps.review.text import scores_text

    r = evaluate(data, engine, opts, masker=masker)
    return {"data": data, "model": model, **r}, scores_text(data, model, opts, r)
