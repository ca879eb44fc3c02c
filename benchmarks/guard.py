"""Guard speed and accuracy, against Presidio's pattern recognizers on the same texts.

Texts: generated identifiers in prose (slmkit.guard.synthetic), generated log lines
(slmkit.guard.loglines) and this machine's own logs (/var/log), cut into ~1,000-character
documents. Metrics: throughput (characters/s), p50/p95 latency per 1k characters, recall
per shared entity type, and the share of log lines with a false positive.

Presidio runs in a child interpreter (``--presidio-python``, default: this one) with a
blank spaCy pipeline, so only its pattern recognizers (+ phonenumbers) are active: its
default NER model downloads at run time and is not available offline.

    python benchmarks/guard.py [--n 2000] [--presidio-python /path/to/venv/bin/python]
    python benchmarks/guard.py --korean-names   # Korean names: recall and false positives

Targets (issue #8): recall ≥ 0.98 per structured type, ≤ 1% false positives on log
lines, p95 ≤ 10 ms per 1k characters.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from _common import machine, save

# Presidio type -> ours, for the types both cover
PRESIDIO_TYPES = {"EMAIL_ADDRESS": "EMAIL", "PHONE_NUMBER": "PHONE", "CREDIT_CARD": "CREDIT_CARD",
                  "IBAN_CODE": "IBAN", "IP_ADDRESS": "IP_ADDRESS", "KR_RRN": "KR_RRN"}


def documents(texts: list[str], size: int = 1000) -> list[str]:
    """Join texts with newlines and cut into ~``size``-character documents at line ends."""
    docs, cur = [], ""
    for t in texts:
        cur = f"{cur}\n{t}" if cur else t
        if len(cur) >= size:
            docs.append(cur)
            cur = ""
    return docs + ([cur] if cur else [])


def timed(find, docs: list[str]) -> dict:
    """Latency per 1k characters over every document, and throughput."""
    for d in docs[:20]:
        find(d)  # warm up
    per_k, total_t, total_c = [], 0.0, 0
    for d in docs:
        t0 = time.perf_counter()
        find(d)
        dt = time.perf_counter() - t0
        per_k.append(dt * 1000 / (len(d) / 1000))
        total_t, total_c = total_t + dt, total_c + len(d)
    per_k.sort()
    return {"docs": len(docs), "chars": total_c, "chars_per_second": round(total_c / total_t),
            "p50_ms_per_1k": round(statistics.median(per_k), 3),
            "p95_ms_per_1k": round(per_k[int(0.95 * (len(per_k) - 1))], 3)}


def accuracy(spans_of, pii, logs) -> dict:
    """Recall per type on ``pii``, false-positive line rate on ``logs``; ``spans_of(text)``
    returns [(entity, start, end)] in our type names (other types dropped)."""
    from slmkit.guard.base import Finding
    from slmkit.guard.evaluate import covered, spurious

    planted, found = {}, {}
    for s in pii:
        fs = [Finding(e, a, b, 1.0, "") for e, a, b in spans_of(s.text)]
        for span in s.spans:
            planted[span[0]] = planted.get(span[0], 0) + 1
            found[span[0]] = found.get(span[0], 0) + covered(span, fs, same_type=True)
    bad = sum(bool(spurious(s, [Finding(e, a, b, 1.0, "") for e, a, b in spans_of(s.text)]))
              for s in logs)
    return {"recall": {e: round(found[e] / planted[e], 4) for e in sorted(planted)},
            "log_false_positive_rate": round(bad / max(len(logs), 1), 4)}


def presidio_child(payload_path: str) -> None:
    """Runs inside the Presidio interpreter: speed on docs, spans on texts."""
    import spacy
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.nlp_engine import SpacyNlpEngine

    class BlankSpacy(SpacyNlpEngine):
        def load(self) -> None:
            self.nlp = {"en": spacy.blank("en")}

    nlp = BlankSpacy(models=[{"lang_code": "en", "model_name": "blank"}])
    nlp.load()
    registry = RecognizerRegistry()
    registry.load_predefined_recognizers()
    analyzer = AnalyzerEngine(registry=registry, nlp_engine=nlp, supported_languages=["en"])
    data = json.loads(Path(payload_path).read_text())

    def find(text):
        return analyzer.analyze(text, language="en")

    speed = timed(find, data["docs"])
    spans = [[[r.entity_type, r.start, r.end] for r in find(t)] for t in data["texts"]]
    print(json.dumps({"speed": speed, "spans": spans}))


def run_presidio(python: str, docs: list[str], texts: list[str]) -> dict | None:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump({"docs": docs, "texts": texts}, f)
    out = subprocess.run([python, __file__, "--presidio-child", f.name],
                         check=False, capture_output=True, text=True)
    Path(f.name).unlink()
    if out.returncode != 0:
        print(f"presidio not measured: {out.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
        return None
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=2000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--presidio-python", default=sys.executable)
    p.add_argument("--presidio-child", help=argparse.SUPPRESS)
    p.add_argument("--korean-names", action="store_true",
                   help="only Korean personal names, against the recognizers before them")
    args = p.parse_args()
    if args.presidio_child:
        return presidio_child(args.presidio_child)
    if args.korean_names:
        return korean_names()

    from slmkit.guard import Scanner
    from slmkit.guard.evaluate import real_log_samples
    from slmkit.guard.loglines import log_lines
    from slmkit.guard.synthetic import pii_samples

    pii, logs = pii_samples(args.n, args.seed), log_lines(args.n, args.seed)
    real = real_log_samples()
    docs = documents([s.text for s in pii + logs + real])
    scanner = Scanner(ner=False)
    ours_spans = lambda t: [(f.entity, f.start, f.end) for f in scanner.scan(t)]
    results = {"machine": machine(), "n": args.n, "seed": args.seed,
               "ours": {"speed": timed(scanner.scan, docs),
                        **accuracy(ours_spans, pii, logs + real)}}
    texts = [s.text for s in pii + logs + real]
    pres = run_presidio(args.presidio_python, docs, texts)
    if pres:
        table = dict(zip(texts, pres["spans"]))
        pres_spans = lambda t: [(PRESIDIO_TYPES[e], a, b) for e, a, b in table[t]
                                if e in PRESIDIO_TYPES]
        any_spans = lambda t: [(e, a, b) for e, a, b in table[t]]
        acc = accuracy(pres_spans, pii, logs + real)
        acc["recall"] = {e: v for e, v in acc["recall"].items() if e in PRESIDIO_TYPES.values()}
        acc["log_false_positive_rate_any_type"] = accuracy(any_spans, [], logs + real)[
            "log_false_positive_rate"]
        results["presidio"] = {"speed": pres["speed"], **acc}
    print(json.dumps(results, indent=2))
    save("guard", results, markdown(results))


KOREAN_NAMES = Path(__file__).resolve().parents[1] / "tests/guard/data/korean_names.jsonl"


def korean_names() -> None:
    """Recall on the labelled Korean texts and false-positive texts on the name-free ones,
    for the whole scanner and for it without guard/names_ko (the anchor)."""
    from slmkit.guard import Scanner
    from slmkit.guard.evaluate import evaluate_names, name_samples
    from slmkit.guard.names_ko import RECOGNIZERS as KOREAN
    from slmkit.guard.scanner import DEFAULT_RECOGNIZERS

    samples = name_samples(KOREAN_NAMES)
    before = [r for r in DEFAULT_RECOGNIZERS if r not in KOREAN]
    result = {"machine": machine(), "data": str(KOREAN_NAMES.name),
              "before": evaluate_names(samples, Scanner(before, ner=False)),
              "after": evaluate_names(samples, Scanner(ner=False))}
    print(json.dumps(result, indent=2, ensure_ascii=False))
    rows = [f"| {k} | {v['recall']} | {round(v['false_positive_rate'] * v['name_free_texts'])}"
            f" / {v['name_free_texts']} |" for k, v in (("before", result["before"]),
                                                       ("after", result["after"]))]
    save("guard-korean-names", result,
         "# Korean personal names\n\n| recognizers | recall | false-positive texts |\n"
         "|---|---|---|\n" + "\n".join(rows) + "\n")


def markdown(r: dict) -> str:
    o, pr = r["ours"], r.get("presidio")
    lines = ["# Guard benchmark", "", f"{r['n']} generated texts + {r['n']} generated log lines + "
             "this machine's logs, seed " + str(r["seed"]), "",
             "| | ours | Presidio patterns |", "|---|---|---|"]
    for key in ("chars_per_second", "p50_ms_per_1k", "p95_ms_per_1k"):
        lines.append(f"| {key} | {o['speed'][key]} | {pr['speed'][key] if pr else 'n/a'} |")
    lines.append(f"| log false-positive lines | {o['log_false_positive_rate']} | "
                 f"{pr['log_false_positive_rate'] if pr else 'n/a'} |")
    for e, v in o["recall"].items():
        lines.append(f"| recall {e} | {v} | {pr['recall'].get(e, '—') if pr else 'n/a'} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
