"""Review documents (contracts, NDAs, employment agreements) against a checklist, offline:
each field with a verbatim evidence span and its location, or "not found" — never invented;
risky clauses flagged with the clause cited; personal data masked before any remote model
sees the text. ``review(document, engine, load_checklist("contract"))``; ``ReviewApp`` for
HTTP."""

from slmkit.apps.review.checklists import BUILTIN, Field, load_checklist
from slmkit.apps.review.pipeline import ReviewOptions, review

__all__ = ["BUILTIN", "Field", "ReviewOptions", "load_checklist", "review"]
