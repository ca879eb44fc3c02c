"""Risky clauses, found by rule (no model), each flag citing the clause and its location:
auto-renewal (with the notice period when stated), unilateral changes, one-sided or
unlimited liability, and a missing liability cap."""

from __future__ import annotations

import re

from slmkit.apps.documents import Document
from slmkit.apps.review.clauses import Clause

RULES = [
    ("auto_renewal", "renews automatically unless notice is given",
     re.compile(r"automatic(ally)?\s+(be\s+)?renew|renew(s|ed)?\s+automatically|"
                r"자동(으로|적으로)?\s*(연장|갱신)", re.I)),
    ("unilateral_change", "one party may change the terms on its own",
     re.compile(r"(may|can|reserves the right to)\s+(amend|modify|change|update)[^.]{0,80}"
                r"(at any time|sole discretion|without (prior )?(notice|consent))|sole discretion|"
                r"일방적으로|(통지|동의)\s*없이[^.]{0,30}(변경|수정)", re.I)),
    ("one_sided_liability", "one party excludes its liability",
     re.compile(r"(in no event|under no circumstances)\s+shall\s+[\w\s]{1,30}be liable|"
                r"shall (not|in no event) be liable|책임을\s*지지\s*(않는다|아니한다)|면책", re.I)),
    ("unlimited_liability", "liability without a limit",
     re.compile(r"unlimited liability|without (any )?limit(ation)?|all (losses|damages)[^.]{0,40}"
                r"whatsoever|한도\s*없이|무제한|모든\s*손해를\s*배상", re.I)),
]
LONG_NOTICE_DAYS = 60
NOTICE = re.compile(r"(\d+)\s*(days?|months?|일|개월)", re.I)


def _notice_days(text: str) -> int | None:
    best = None
    for n, unit in NOTICE.findall(text):
        days = int(n) * (30 if unit.lower().startswith(("month", "개월")) else 1)
        best = max(best or 0, days)
    return best


def risk_flags(doc: Document, items: list[Clause], fields: dict[str, dict]) -> list[dict]:
    """``[{"kind", "why", "clause", "location"}]``; ``fields`` are the extracted fields
    (a missing ``liability_cap`` is itself a risk)."""
    out = []
    for c in items:
        for kind, why, pattern in RULES:
            if not pattern.search(c.text):
                continue
            flag = {"kind": kind, "why": why, "clause": c.text,
                    "location": doc.location(c.start, c.end)}
            if kind == "auto_renewal":
                days = _notice_days(c.text)
                if days:
                    flag["notice_days"] = days
                    if days >= LONG_NOTICE_DAYS:
                        flag["why"] = f"renews automatically; {days} days' notice to stop it"
            out.append(flag)
    cap = fields.get("liability_cap")
    if cap is not None and cap.get("status") != "found":
        out.append({"kind": "missing_liability_cap", "why": "no liability cap was found",
                    "clause": None, "location": None})
    return out
