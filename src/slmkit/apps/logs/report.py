"""The logs app over files: reading a log (or standard input), the explain report, the
evaluation on Loghub-2k and BGL, and each report as the lines `slm logs` prints."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from slmkit.apps.logs.detect import Detector, DetectorConfig, detect_lines
from slmkit.apps.logs.explain import Explainer, ExplainStats, explain_records
from slmkit.apps.logs.parser import LogParser

BGL_FILE = "BGL_first1000.log"  # under bgl-anomaly/ in the evaluation data


def read_lines(path: str) -> Iterator[str]:
    """The lines of ``path`` ('-': standard input); an unreadable file is a ValueError that
    says which and why."""
    if path == "-":
        yield from sys.stdin
        return
    try:
        fh = open(path, encoding="utf-8", errors="replace", newline="")
    except OSError as err:
        raise ValueError(f"cannot read {path}: {err.strerror}") from None
    with fh:
        yield from fh


def detector(parser: LogParser, threshold: float = 1.0, baseline: str | None = None
             ) -> tuple[Detector, dict[str, Any] | None]:
    """A detector, first fit on the ``baseline`` file when given (a period of normal
    operation: it may raise the threshold); the baseline's counts, or None."""
    det = Detector(DetectorConfig(threshold=threshold))
    if not baseline:
        return det, None
    from slmkit.apps.logs.parser import parse_lines

    info = det.fit_baseline(parse_lines(read_lines(baseline), parser))
    parser.new_input()
    return det, info


@dataclass
class ExplainReport:
    """What `slm logs explain` found: the explanations and what they cost in model calls."""

    model: str
    events: int
    explanations: list[dict[str, Any]]
    stats: ExplainStats

    def to_dict(self) -> dict[str, Any]:
        s = self.stats
        return {"model": self.model, "events": self.events, "explanations": self.explanations,
                "model_calls": s.model_calls, "cache_hits": s.cache_hits,
                "model_calls_per_1000_lines": round(s.per_1000_lines(), 3)}

    def text(self) -> str:
        """For people: each anomaly, its explanation and next step, then the cost."""
        out = []
        for e in self.explanations:
            cached = " (same as line %d)" % e["first_line"] if e.get("cached") else ""
            out.append(f"line {e['line']} [{', '.join(e['types'])}] {e['template']}{cached}")
            out.append(f"  {e['explanation']}")
            if e.get("next_step"):
                out.append(f"  next step: {e['next_step']}")
        out.append(f"{self.stats.model_calls} model calls for {self.stats.lines} lines "
                   f"({self.to_dict()['model_calls_per_1000_lines']} per 1,000 lines)")
        return "\n".join(out)


def explain_log(lines, parser: LogParser, detector: Detector, engine, model: str, *,
                retrieve: Callable[[str], list[dict]] | None = None,
                limit: int = 20) -> ExplainReport:
    """Detect the anomalies of ``lines``, explain up to ``limit`` of them with ``engine``
    (advice grounded in ``retrieve(query)`` passages when given)."""
    recs = list(detect_lines(lines, parser, detector))
    ex = Explainer(engine, retrieve=retrieve)
    found = explain_records(recs, ex, limit=limit)
    return ExplainReport(model, len(recs), found, ex.stats)


def evaluate_data(root: str | Path, systems: list[str], compare: bool = False,
                  corrector=None) -> dict:
    """Parsing accuracy on ``root``/loghub-2k (``systems``, default all; ``compare``: drain3
    too; ``corrector``: with template correction too) and anomaly detection on
    ``root``/bgl-anomaly when present."""
    from slmkit.apps.logs.detect_eval import evaluate_detection
    from slmkit.apps.logs.evaluate import evaluate_loghub

    root = Path(root)
    if not (root / "loghub-2k").is_dir():
        raise ValueError(f"{root} has no loghub-2k/ folder; pass --data with the folder that "
                         "holds loghub-2k/ and bgl-anomaly/")
    parsing = evaluate_loghub(root / "loghub-2k", systems, compare=compare,
                              corrector=corrector)
    bgl = root / "bgl-anomaly" / BGL_FILE
    detection = evaluate_detection(bgl) if bgl.exists() else None
    return {"parsing": parsing, "detection": detection}


def eval_text(report: dict[str, Any]) -> str:
    """The evaluation as tables: GA/PA/FGA/FTA per system and parser, then P/R/F1."""
    out = [f"{'system':12s} {'parser':7s} {'GA':>6s} {'PA':>6s} {'FGA':>6s} {'FTA':>6s} "
           f"{'lines/s':>9s}"]
    for system, row in report["parsing"].items():
        for name, m in row.items():
            speed = (f"{m['lines_per_s']:9.0f}" if "lines_per_s" in m else
                     f"{m['model_calls']} model calls ({m['calls_per_1000_lines']:.1f} per "
                     f"1,000 lines, {m['seconds']:.0f} s)")
            out.append(f"{system:12s} {name:7s} {m['GA']:6.3f} {m['PA']:6.3f} "
                       f"{m['FGA']:6.3f} {m['FTA']:6.3f} {speed}")
    detection = report["detection"]
    if detection:
        out.append(f"\nanomaly detection on {BGL_FILE} ({detection['anomalies']} of "
                   f"{detection['lines']} lines)")
        for name, m in detection["methods"].items():
            out.append(f"  {name:17s} line P/R/F1 {m['line']['precision']:.3f}/"
                       f"{m['line']['recall']:.3f}/{m['line']['f1']:.3f}   window "
                       f"{m['window']['f1']:.3f}")
    return "\n".join(out)
