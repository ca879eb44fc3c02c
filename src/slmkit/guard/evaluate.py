"""Measuring the guard: recall per entity type on generated identifiers, and false
positives on log lines (generated ones, and real system logs when the machine has them).

    python -m slmkit.guard.evaluate [--n 2000] [--seed 0]

A planted value counts as found when findings of its type cover all of it (a masked half
of a card number still leaks the other half); ``leak_rate`` counts values that no finding
of any type covers. A false positive is a finding that overlaps no planted value.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

from slmkit.guard.base import Finding
from slmkit.guard.loglines import log_lines
from slmkit.guard.scanner import Scanner, default_scanner
from slmkit.guard.synthetic import Sample, pii_samples

REAL_LOGS = ("/var/log/dpkg.log", "/var/log/alternatives.log", "/var/log/apt/history.log",
             "/var/log/apt/term.log", "/var/log/fontconfig.log")


def covered(span: tuple[str, int, int], findings: Iterable[Finding], *, same_type: bool) -> bool:
    """True when ``findings`` (of the span's type, if asked) cover ``span`` completely."""
    entity, start, end = span
    pos = start
    for f in sorted(findings, key=lambda f: f.start):
        if same_type and f.entity != entity:
            continue
        if f.start <= pos < f.end:
            pos = f.end
        if pos >= end:
            return True
    return False


def spurious(sample: Sample, findings: Sequence[Finding]) -> list[Finding]:
    """Findings that overlap no planted value."""
    return [f for f in findings
            if not any(f.start < e and s < f.end for _, s, e in sample.spans)]


def evaluate_samples(samples: Sequence[Sample], scanner: Scanner) -> dict:
    """Recall per type, leak rate and false positives over texts with planted values."""
    planted, found, leaked = Counter(), Counter(), Counter()
    false_pos = Counter()
    for sample in samples:
        findings = scanner.scan(sample.text)
        for span in sample.spans:
            planted[span[0]] += 1
            found[span[0]] += covered(span, findings, same_type=True)
            leaked[span[0]] += not covered(span, findings, same_type=False)
        false_pos.update(f.entity for f in spurious(sample, findings))
    total = sum(planted.values())
    return {
        "texts": len(samples), "planted": total,
        "recall": {e: round(found[e] / planted[e], 4) for e in sorted(planted)},
        "planted_per_type": dict(sorted(planted.items())),
        "leak_rate": round(sum(leaked.values()) / max(total, 1), 4),
        "false_positives": dict(false_pos),
    }


def evaluate_lines(samples: Sequence[Sample], scanner: Scanner) -> dict:
    """Share of lines with at least one false positive, and which types fired."""
    bad_lines, types = 0, Counter()
    planted, found = 0, 0
    for sample in samples:
        findings = scanner.scan(sample.text)
        extra = spurious(sample, findings)
        bad_lines += bool(extra)
        types.update(f.entity for f in extra)
        planted += len(sample.spans)
        found += sum(covered(s, findings, same_type=True) for s in sample.spans)
    return {"lines": len(samples), "false_positive_lines": bad_lines,
            "false_positive_rate": round(bad_lines / max(len(samples), 1), 4),
            "false_positive_types": dict(types),
            "planted_recall": round(found / planted, 4) if planted else None}


def name_samples(path: str | Path) -> list[tuple[str, list[str]]]:
    """A labelled names file: JSON lines of ``{"text": ..., "names": [...]}`` (an empty
    list for a text without any personal name)."""
    rows = [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines()
            if line.strip()]
    return [(r["text"], list(r["names"])) for r in rows]


def evaluate_names(samples: Sequence[tuple[str, list[str]]], scanner: Scanner) -> dict:
    """Recall of the labelled names (a name counts when PERSON findings cover it) and the
    share of name-free texts with any PERSON finding (false-positive texts)."""
    names = found = clean = flagged = 0
    missed: list[str] = []
    for text, labelled in samples:
        people = [f for f in scanner.scan(text) if f.entity == "PERSON"]
        if not labelled:
            clean += 1
            flagged += bool(people)
            continue
        for name in labelled:
            start = text.index(name)
            hit = covered(("PERSON", start, start + len(name)), people, same_type=True)
            names, found = names + 1, found + hit
            if not hit:
                missed.append(name)
    return {"names": names, "recall": round(found / max(names, 1), 4), "missed": missed,
            "name_free_texts": clean, "false_positive_rate": round(flagged / max(clean, 1), 4)}


def real_log_samples(paths: Sequence[str] = REAL_LOGS, limit: int = 5000) -> list[Sample]:
    """Lines of this machine's own logs (no planted values; every finding is examined)."""
    out: list[Sample] = []
    for path in paths:
        try:
            text = Path(path).read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        out.extend(Sample(line) for line in text.splitlines() if line.strip())
    return out[:limit]


def run(n: int = 2000, seed: int = 0, scanner: Scanner | None = None) -> dict:
    """The whole evaluation: generated PII texts, generated log lines, real log lines."""
    scanner = scanner or default_scanner()
    report = {"pii": evaluate_samples(pii_samples(n, seed), scanner),
              "logs": evaluate_lines(log_lines(n, seed), scanner)}
    real = real_log_samples()
    if real:
        report["real_logs"] = evaluate_lines(real, scanner)
    return report


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=2000)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    print(json.dumps(run(args.n, args.seed), indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
