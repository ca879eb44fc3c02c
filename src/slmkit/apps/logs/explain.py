"""Explanations of log anomalies by a small model, grounded in the lines around each one.

For each anomaly the model sees the anomalous event, up to ``context`` events before and
after it (numbered by their line in the log), the signals that fired and, when a
``retrieve(query) -> [{"source", "text"}]`` callable is given (a runbook collection over
RAG), a few runbook passages. It answers with a short explanation and one next step, citing
lines as ``[L123]``. Answers are cached per template (LILAC's insight: the
model runs per *kind* of anomaly, not per line), so model calls stay far rarer than lines.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from slmkit.core.engine import Engine
from slmkit.core.types import ChatMessage, GenerateRequest, SamplingParams, collect

SYSTEM = ("You are a site reliability engineer reading machine and server logs. Be brief "
          "and concrete. Only use the log lines you are given.")
GREEDY = SamplingParams(temperature=0.0, seed=0)
_CITE = re.compile(r"\[L(\d+)\]")

Retrieve = Callable[[str], Sequence[dict[str, str]]]


@dataclass
class ExplainStats:
    """How many anomalies were explained, how many model calls that took."""

    lines: int = 0
    anomalies: int = 0
    model_calls: int = 0
    cache_hits: int = 0

    def per_1000_lines(self) -> float:
        """Model calls per 1,000 log lines."""
        return 1000.0 * self.model_calls / self.lines if self.lines else 0.0


@dataclass
class Explainer:
    """Explains anomalies with ``engine``; one model call per template."""

    engine: Engine
    context: int = 3
    max_tokens: int = 120
    retrieve: Retrieve | None = None
    cache: dict[tuple, dict[str, Any]] = field(default_factory=dict)
    stats: ExplainStats = field(default_factory=ExplainStats)

    def prompt(self, rec: dict[str, Any], around: Sequence[dict[str, Any]]) -> str:
        """The user message for one anomaly."""
        lines = []
        for r in around:
            mark = ">>" if r is rec else "  "
            lines.append(f"{mark}[L{r['line']}] {_text(r)}")
        signals = ", ".join(rec.get("types") or ["unusual"])
        parts = [f"Anomalous event: line {rec['line']} (signals: {signals}).",
                 "Log lines around it:", *lines]
        if self.retrieve is not None:
            hits = self.retrieve(rec.get("content", ""))[:3]
            if hits:
                parts.append("Runbook passages:")
                parts += [f"[R{i}] ({h.get('source', '?')}) {h.get('text', '')[:400]}"
                          for i, h in enumerate(hits, 1)]
        parts.append(f"In at most two sentences, say what probably happened, citing lines "
                     f"as [L{rec['line']}]. Then write 'Next step:' and one thing to check.")
        return "\n".join(parts)

    def explain(self, rec: dict[str, Any], around: Sequence[dict[str, Any]]) -> dict[str, Any]:
        """One anomaly's explanation (from the cache when its kind was explained before)."""
        self.stats.anomalies += 1
        key = (rec["event_id"],)
        hit = self.cache.get(key)
        if hit is not None:
            self.stats.cache_hits += 1
            return {**hit, "cached": True, "first_line": hit["line"]}
        out = collect(self.engine.generate(GenerateRequest(
            messages=[ChatMessage("system", SYSTEM),
                      ChatMessage("user", self.prompt(rec, around))],
            max_tokens=self.max_tokens, sampling=GREEDY, truncate=True)))
        self.stats.model_calls += 1
        text = out.text.strip()
        explanation, _, step = text.partition("Next step:")
        shown = {r["line"] for r in around}
        cited = sorted({int(n) for n in _CITE.findall(text)} & shown) or [rec["line"]]
        result = {"line": rec["line"], "explanation": explanation.strip(),
                  "next_step": step.strip() or None, "cites": cited,
                  "context_lines": sorted(shown)}
        self.cache[key] = result
        return {**result, "cached": False}


def _text(rec: dict[str, Any]) -> str:
    extra = rec.get("extra") or []
    body = rec.get("content", "")
    if extra:
        body += " | " + " | ".join(x.strip() for x in extra[:3])
    return body[:300]


def explain_records(records: Sequence[dict[str, Any]], explainer: Explainer,
                    limit: int | None = None, progress=None) -> list[dict[str, Any]]:
    """Explanations for the anomalies among ``records`` (checked records, in log order)."""
    explainer.stats.lines += sum(1 + len(r.get("extra") or ()) for r in records)
    flagged = [i for i, r in enumerate(records) if r.get("anomaly")]
    if limit is not None:
        flagged = flagged[:limit]
    out = []
    for n, i in enumerate(flagged, 1):
        lo, hi = max(0, i - explainer.context), i + explainer.context + 1
        rec = records[i]
        out.append({"event_id": rec["event_id"], "template": rec["template"],
                    "types": rec["types"], "score": rec["score"],
                    **explainer.explain(rec, records[lo:hi]), "line": rec["line"]})
        if progress is not None:
            progress({"done": n, "total": len(flagged), "line": rec["line"]})
    return out
