"""Checking citations against the passages they name.

A model's ``[n]`` is a claim: "source n says this". Before an answer is called grounded,
every citation is checked: the answer's *key terms* — its content words, numbers and
identifier parts that the question does not already hold — must be found in the cited
passage (share ≥ :data:`SUPPORT`, words compared lowercased by their first five letters),
and when the question names identifiers, the passage must hold one of them. Then:

- citations whose passage supports the answer are kept (``cited_by_model``);
- citations whose passage does not are dropped and listed in ``rejected``; the passages
  that do support the answer are cited instead (best first), marked as attributed;
- when no passage supports the answer, nothing is cited and the answer is not grounded.

An answer that says it does not know cites nothing and is not grounded either.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

SUPPORT = 0.5
MAX_ATTRIBUTED = 2
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_CITE = re.compile(r"\[\d+(?:\s*[,;]\s*\d+)*\]")
_DONT_KNOW = re.compile(r"\b(i\s+(do\s+not|don'?t)\s+know|not\s+(mentioned|stated|in\s+the\s+"
                        r"sources?)|the\s+sources?\s+do(es)?\s+not\s+say)\b", re.IGNORECASE)
STOP = frozenset("a an the and or of in on to for with is are was were be been by as at it "
                 "its this that these those from which who what when where how why i you we "
                 "they he she not no yes do does did has have had can could will would "
                 "should may might there their them than then so if into out up about your "
                 "my our me us also just only any all some such very more most".split())


@dataclass
class Check:
    """The outcome of :func:`check`: the source numbers to cite, whether they are the
    model's own, whether the answer is grounded, and the model's rejected citations."""

    cited: list[int] = field(default_factory=list)
    cited_by_model: bool = False
    grounded: bool = False
    rejected: list[int] = field(default_factory=list)
    support: list[float] = field(default_factory=list)  # per passage, [1] first


def _stems(text: str) -> set[str]:
    out = set()
    for w in _WORD.findall(text.lower()):
        if w in STOP or (len(w) < 3 and not w.isdigit()):
            continue
        out.add(w[:5])
    return out


def key_terms(answer: str, question: str = "") -> set[str]:
    """What the answer adds: its content stems minus the question's (all of them when the
    answer only restates the question)."""
    words = _stems(_CITE.sub(" ", answer))
    return (words - _stems(question)) or words


def support(answer: str, passage: str, question: str = "") -> float:
    """Share of the answer's key terms that ``passage`` holds (0 when it has none, and 0
    when the question names identifiers — ``TN-3480`` — and the passage holds none of
    them: an answer about TN-3480 is not supported by the database runbook, however many
    words they share)."""
    from slmkit.rag.retrieve import identifiers

    key = key_terms(answer, question)
    if not key:
        return 0.0
    ids = identifiers(question)
    if ids and not any(p.search(passage) for p in ids):
        return 0.0
    return len(key & _stems(passage)) / len(key)


def says_dont_know(answer: str) -> bool:
    return bool(_DONT_KNOW.search(answer))


def check(answer: str, passages: Sequence[str], model_cited: Sequence[int], *,
          question: str = "") -> Check:
    """Verify ``model_cited`` (1-based source numbers) for ``answer`` against
    ``passages`` (texts, [1] first); see the module docstring."""
    if not answer.strip() or says_dont_know(answer):
        return Check(rejected=list(model_cited))
    scores = [support(answer, p, question) for p in passages]
    ok = [n for n in model_cited if 0 < n <= len(scores) and scores[n - 1] >= SUPPORT]
    rejected = [n for n in model_cited if n not in ok]
    if ok:
        return Check(ok, True, True, rejected, scores)
    best = sorted((n for n in range(1, len(scores) + 1) if scores[n - 1] >= SUPPORT),
                  key=lambda n: (-scores[n - 1], n))[:MAX_ATTRIBUTED]
    return Check(best, False, bool(best), rejected, scores)
