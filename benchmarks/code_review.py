"""`slm code review` on planted bugs: recall and precision of the deterministic checks, of
the model's verified findings, and of both, with the offline coder model.

Four small Python files written for this benchmark (below; never used for training) carry
15 planted bugs: 8 of the kinds the checks look for (unused import, mutable default, bare
except, ``== None``, ``is`` with a literal) and 7 that need reading the code (off by one,
wrong comparison or operator, division by zero on empty input, an unclosed file, SQL built
from user input, an inverted condition). A finding is a hit when its line is within one line
of a planted bug (a second finding on a bug already found is a repeat, not a false
positive); every other finding counts against precision. Also
reported: the model's findings dropped by verification (line outside the reviewed part, or
the quoted code not in the file) and how many of those pointed at a planted line anyway.
Anchor: the checks alone (deterministic, measured in the same run). Busy machine: seconds
are wall clock under load.

    SLM_HOME=~/.cache/slmkit/test-home python benchmarks/code_review.py [--model NAME]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from _common import machine, save

from slmkit.apps.code.review import from_file, review

# "#@kind" marks a planted bug's line; the marker is removed before the review.
FILES = {
    "inventory.py": '''import os  #@unused-import
import json


def restock(items, extra=[]):  #@mutable-default
    for item in items:
        extra.append(item)
    return extra


def last_n(items, n):
    out = []
    for i in range(len(items) - n, len(items) + 1):  #@off-by-one
        out.append(items[i])
    return out


def in_stock(count):
    return count < 0  #@wrong-comparison


def save(items, path):
    with open(path, "w") as f:
        json.dump(items, f)
''',
    "io_utils.py": '''def read_config(path):
    try:
        return open(path).read()
    except:  #@bare-except
        return ""


def count_lines(path):
    f = open(path)  #@unclosed-file
    return len(f.readlines())


def first_word(text):
    if text == None:  #@none-compare
        return ""
    return text.split()[0]
''',
    "stats.py": '''import math  #@unused-import


def mean(values):
    return sum(values) / len(values)  #@zero-division


def total(values):
    acc = 0
    for v in values:
        acc = acc - v  #@wrong-operator
    return acc


def label(kind):
    if kind is "fast":  #@is-literal
        return 1
    return 0
''',
    "accounts.py": '''import sqlite3
import hashlib  #@unused-import


def find_user(conn, name):
    query = f"SELECT * FROM users WHERE name = '{name}'"  #@sql-injection
    return conn.execute(query).fetchall()


def is_adult(age):
    return not age >= 18  #@inverted-condition


def connect(path, options={}):  #@mutable-default
    return sqlite3.connect(path, **options)
''',
}


def planted() -> tuple[dict[str, str], dict[str, dict[int, str]]]:
    """(file texts without markers, {file: {line: kind}})."""
    texts, bugs = {}, {}
    for name, raw in FILES.items():
        lines, marks = [], {}
        for i, line in enumerate(raw.splitlines(), 1):
            code, _, kind = line.partition("  #@")
            if kind:
                marks[i] = kind
            lines.append(code)
        texts[name], bugs[name] = "\n".join(lines) + "\n", marks
    return texts, bugs


def score(findings: list[dict], bugs: dict[str, dict[int, str]]) -> dict:
    """Hits: planted bugs found (a finding within one line of one); a finding on a bug
    already found is a repeat (not a false positive: two sources agreeing); precision is
    the share of findings pointing at a planted bug."""
    planted_at = {(f, n) for f, marks in bugs.items() for n in marks}
    found: set[tuple[str, int]] = set()
    repeats = 0
    for f in sorted(findings, key=lambda f: (f["path"], f["line"])):
        near = [(f["path"], n) for n in (f["line"], f["line"] - 1, f["line"] + 1)
                if (f["path"], n) in planted_at]
        new = next((m for m in near if m not in found), None)
        if new:
            found.add(new)
        elif near:
            repeats += 1
    total = len(planted_at)
    good = len(found) + repeats
    return {"findings": len(findings), "hits": len(found), "repeats": repeats,
            "planted": total, "recall": round(len(found) / total, 3),
            "precision": round(good / len(findings), 3) if findings else None,
            "missed": sorted(f"{f}:{n} {bugs[f][n]}" for f, n in planted_at - found)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="qwen2.5-coder-0.5b-instruct")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--max-tokens", type=int, default=256, help="per model answer")
    args = ap.parse_args()
    from slmkit.models.load import load, resolve

    texts, bugs = planted()
    sources = [from_file(name, text) for name, text in texts.items()]
    t0 = time.perf_counter()
    checks = review(None, sources)["findings"]
    check_s = time.perf_counter() - t0
    engine = load(resolve(args.model, pull=False), n_ctx=4096, n_threads=args.threads)
    try:
        t0 = time.perf_counter()
        both = review(engine, [from_file(n, t) for n, t in texts.items()],
                      max_tokens=args.max_tokens,
                      progress=lambda e: print(f"{e['done']}/{e['total']} {e['item']} "
                                               f"{time.perf_counter() - t0:.0f} s",
                                               file=sys.stderr, flush=True))
        model_s = time.perf_counter() - t0
    finally:
        engine.close()
    model = [f for f in both["findings"] if f["source"] == "model"]
    near = sum(1 for d in both["dropped"] if isinstance(d["line"], int) and any(
        abs(d["line"] - n) <= 1 for n in bugs.get(d["path"], {})))
    out = {"model": args.model, "machine": machine(), "busy_machine": True,
           "checks": score(checks, bugs), "model_only": score(model, bugs),
           "both": score(both["findings"], bugs),
           "model_dropped": len(both["dropped"]), "dropped_near_a_planted_line": near,
           "model_patches": sum(1 for f in model if f["patch"]),
           "calls": both["calls"], "found": both["findings"], "dropped": both["dropped"],
           "seconds": {"checks": round(check_s, 3),
                                                "model_run": round(model_s, 1)}}
    md = render(out)
    print(md)
    save("code_review", out, md)
    return 0


def render(out: dict) -> str:
    rows = ["| findings from | findings | bugs found | repeats | recall | precision |",
            "|---|---|---|---|---|---|"]
    for key, label in (("checks", "deterministic checks (anchor)"),
                       ("model_only", f"model ({out['model']}), verified"),
                       ("both", "both")):
        s = out[key]
        prec = "–" if s["precision"] is None else f"{s['precision']:.2f}"
        rows.append(f"| {label} | {s['findings']} | {s['hits']}/{s['planted']} | "
                    f"{s['repeats']} | {s['recall']:.2f} | {prec} |")
    return ("\n".join(rows) + f"\n\nmodel findings dropped by verification: "
            f"{out['model_dropped']} ({out['dropped_near_a_planted_line']} of them near a "
            f"planted line); model patches that apply and parse: {out['model_patches']}; "
            f"{out['calls']['calls']} model calls in {out['seconds']['model_run']} s "
            f"(busy machine); checks in {out['seconds']['checks']} s\n"
            f"missed by both: {', '.join(out['both']['missed']) or 'none'}\n")


if __name__ == "__main__":
    raise SystemExit(main())
