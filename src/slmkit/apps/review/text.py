"""A review as the plain text `slm review` prints, and the JSON schema of its fields."""

from __future__ import annotations

import json

from slmkit.apps.review.checklists import Field


def review_text(r: dict) -> str:
    """One document's review (``review``'s dict): each field with its evidence and line
    (marked when the upstream found it), or why it was not found; then the risky clauses."""
    out = [f"== {r['document']} ({r['language']}, {r['mode']}, {r['extraction']}) =="]
    for name, f in r["fields"].items():
        if f["status"] == "found":
            loc = f["location"]
            where = f"line {loc['line']}" + (f", page {loc['page']}" if "page" in loc else "")
            by = " [upstream]" if f.get("source") == "upstream" else ""
            out.append(f"  {name}: {f['value']}{by}\n      \"{f['evidence']}\" ({where})")
        else:
            out.append(f"  {name}: not found ({f['reason']})")
    for risk in r["risks"]:
        where = f" (line {risk['location']['line']})" if risk["location"] else ""
        out.append(f"  ! {risk['kind']}: {risk['why']}{where}")
        if risk["clause"]:
            out.append(f"      \"{risk['clause'][:200]}\"")
    return "\n".join(out) + "\n"


def scores_text(data: str, model: str, opts, r: dict) -> str:
    """``evaluate``'s scores as the lines `slm review eval` prints."""
    out = [f"{r['documents']} labelled documents from {data}: {model}, {opts.extraction} "
           f"extraction, {opts.mode} clauses",
           f"  exact match {r['exact_match']:.2f}  F1 {r['f1']:.2f}  evidence accuracy "
           f"{r['evidence_accuracy']:.2f}",
           f"  hallucinated {r['hallucinated']} (target 0)  found but absent "
           f"{r['found_but_absent']}  rejected by the verifier {r['rejected_by_verifier']}",
           f"  {r['seconds_per_doc']:.1f} s per document"]
    if r.get("pii_leaks") is not None:
        out.append(f"  personal data leaked to the upstream {r['pii_leaks']} (target 0; "
                   f"{r['pii_planted']} planted values, every field handed off)")
    return "\n".join(out)


def fields_schema(checklist: list[Field]) -> dict:
    """The JSON schema of a report's ``fields`` for this checklist."""
    found = {"type": "object", "properties": {
        "status": {"enum": ["found", "not_found"]}, "value": {"type": "string"},
        "evidence": {"type": "string"}, "location": {"type": "object"},
        "source": {"enum": ["local", "upstream"]}}, "required": ["status", "source"]}
    return {"type": "object", "properties": {f.name: found | {"description": f.question}
                                             for f in checklist}}


def write_schema(path: str, checklist: list[Field]) -> None:
    """:func:`fields_schema` written to ``path`` (indented, UTF-8)."""
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(fields_schema(checklist), fh, indent=2, ensure_ascii=False)
