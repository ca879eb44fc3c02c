"""`slm logs parse|detect|explain|eval`: log templates, anomalies and their explanations.

    slm logs parse app.log --state app.parse.json > app.events.jsonl
    slm logs detect app.log --baseline last-week.log
    tail -F app.log | slm logs detect -          # or: slm logs detect app.log --follow
    slm logs explain app.log --model qwen2.5-coder-0.5b-instruct
    slm logs eval --data ../shared/data

Every record is one JSON line on stdout (template id, template, parameters, level, ...).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator

from slmkit.cli.common import add_model_args
from slmkit.cli.output import add_json_flag, print_json


def configure(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    parse = sub.add_parser("parse", help="mine templates: one JSON line per event")
    detect = sub.add_parser("detect", help="flag unusual events (JSON lines)")
    explain = sub.add_parser("explain", help="detect, then explain each anomaly with a model")
    for q in (parse, detect, explain):
        q.add_argument("input", metavar="FILE|-", help="log to read ('-': standard input)")
        q.add_argument("--format", default="auto", metavar="FMT",
                       help="header format: auto, a preset (hdfs, bgl, linux, syslog, ...) or "
                            "a Loghub format like '<Date> <Time> <Level> <Component>: "
                            "<Content>' (default: auto)")
        q.add_argument("--state", metavar="FILE",
                       help="parser state to resume and update (template ids stay stable)")
        q.add_argument("--no-multiline", action="store_true",
                       help="one event per line (no stack-trace grouping)")
    parse.add_argument("--templates", action="store_true",
                       help="print the templates with counts at the end instead of events")
    for q in (detect, explain):
        q.add_argument("--baseline", metavar="FILE",
                       help="a period of normal operation: learnt first, sets the threshold")
        q.add_argument("--threshold", type=float, default=1.0,
                       help="minimum score of an anomaly (default 1.0; a baseline may raise it)")
    detect.add_argument("--follow", action="store_true",
                        help="keep reading FILE as it grows (like tail -F)")
    detect.add_argument("--all", action="store_true", help="print every event with its score")
    explain.add_argument("--model", default=None, help="model to explain with (default: "
                                                       "the default model)")
    explain.add_argument("--limit", type=int, default=20,
                         help="explain at most this many anomalies (default 20)")
    explain.add_argument("--rag", metavar="NAME",
                         help="a document collection of runbooks to ground the advice in")
    add_model_args(explain)
    add_json_flag(explain)
    ev = sub.add_parser("eval", help="parsing accuracy on Loghub-2k and anomaly P/R/F1 on BGL")
    ev.add_argument("--data", default="../shared/data",
                    help="folder with loghub-2k/ and bgl-anomaly/ (default ../shared/data)")
    ev.add_argument("--systems", default="", help="comma-separated Loghub systems "
                                                  "(default: all)")
    ev.add_argument("--compare", action="store_true",
                    help="run drain3 on the same lines as the anchor (needs slmkit[apps])")
    add_json_flag(ev)


def run(args: argparse.Namespace) -> int:
    return {"parse": _parse, "detect": _detect, "explain": _explain,
            "eval": _eval}[args.action](args)


def _lines(path: str) -> Iterator[str]:
    if path == "-":
        yield from sys.stdin
        return
    try:
        fh = open(path, encoding="utf-8", errors="replace", newline="")
    except OSError as err:
        raise ValueError(f"cannot read {path}: {err.strerror}") from None
    with fh:
        yield from fh


def _parser(args):
    from slmkit.apps.logs.parser import LogParser

    return LogParser(fmt=args.format, state=args.state, multiline=not args.no_multiline)


def _emit(rec: dict) -> None:
    sys.stdout.write(json.dumps(rec, ensure_ascii=False) + "\n")


def _parse(args) -> int:
    from slmkit.apps.logs.parser import parse_lines

    parser = _parser(args)
    for rec in parse_lines(_lines(args.input), parser):
        if not args.templates:
            _emit(rec)
    if args.templates:
        for t in parser.templates():
            _emit(t)
    return 0


def _detector(args, parser):
    from slmkit.apps.logs.detect import Detector, DetectorConfig
    from slmkit.apps.logs.parser import parse_lines

    det = Detector(DetectorConfig(threshold=args.threshold))
    if args.baseline:
        info = det.fit_baseline(parse_lines(_lines(args.baseline), parser))
        parser.new_input()
        sys.stderr.write(f"baseline: {info['lines']} events, {info['templates']} templates, "
                         f"threshold {info['threshold']}\n")
    return det


def _follow_lines(args) -> Iterator[str | None]:
    from slmkit.apps.logs.follow import follow

    if args.input == "-":
        raise ValueError("--follow reads a file; for a pipe, drop --follow "
                         "(e.g. tail -F app.log | slm logs detect -)")
    return follow(args.input)


def _detect(args) -> int:
    parser = _parser(args)
    det = _detector(args, parser)
    source = _follow_lines(args) if args.follow else _lines(args.input)
    try:
        for line in source:
            rec = parser.flush() if line is None else parser.feed(line)
            if rec is None:
                continue
            out = det.check(rec)
            if args.all or out["anomaly"]:
                _emit(out)
                sys.stdout.flush()
        rec = parser.flush()
        if rec is not None:
            out = det.check(rec)
            if args.all or out["anomaly"]:
                _emit(out)
    finally:
        parser.save()
    return 0


def _retriever(name: str | None, args):
    """``retrieve(query) -> [{"source", "text"}]`` over a RAG collection (hybrid search)."""
    if not name:
        return None
    from slmkit.rag.retrieve import Retriever
    from slmkit.rag.serving import store_embedder
    from slmkit.rag.store import Collection

    coll = Collection(name)
    retriever = Retriever(coll, store_embedder(coll.embedder, pull_missing=False,
                                               threads=args.threads))
    return lambda query: [{"source": p.source, "text": p.text}
                          for p in retriever.retrieve(query, 3)]


def _explain(args) -> int:
    from slmkit.apps.logs.detect import detect_lines
    from slmkit.apps.logs.explain import Explainer, explain_records
    from slmkit.cli.common import open_engine

    if args.limit < 1:
        raise ValueError("--limit must be at least 1")
    parser = _parser(args)
    det = _detector(args, parser)
    recs = list(detect_lines(_lines(args.input), parser, det))
    loaded = open_engine(args.model, args)
    try:
        ex = Explainer(loaded.engine, retrieve=_retriever(args.rag, args))
        found = explain_records(recs, ex, limit=args.limit)
    finally:
        loaded.engine.close()
    s = ex.stats
    report = {"model": loaded.name, "events": len(recs), "explanations": found,
              "model_calls": s.model_calls, "cache_hits": s.cache_hits,
              "model_calls_per_1000_lines": round(s.per_1000_lines(), 3)}
    if args.json:
        return print_json(report)
    for e in found:
        cached = " (same as line %d)" % e["first_line"] if e.get("cached") else ""
        print(f"line {e['line']} [{', '.join(e['types'])}] {e['template']}{cached}")
        print(f"  {e['explanation']}")
        if e.get("next_step"):
            print(f"  next step: {e['next_step']}")
    print(f"{s.model_calls} model calls for {s.lines} lines "
          f"({report['model_calls_per_1000_lines']} per 1,000 lines)")
    return 0


def _eval(args) -> int:
    from pathlib import Path

    from slmkit.apps.logs.detect_eval import evaluate_detection
    from slmkit.apps.logs.evaluate import evaluate_loghub

    root = Path(args.data)
    if not (root / "loghub-2k").is_dir():
        raise ValueError(f"{root} has no loghub-2k/ folder; pass --data with the folder that "
                         "holds loghub-2k/ and bgl-anomaly/")
    systems = [s for s in args.systems.split(",") if s]
    parsing = evaluate_loghub(root / "loghub-2k", systems, compare=args.compare)
    bgl = root / "bgl-anomaly" / "BGL_first1000.log"
    detection = evaluate_detection(bgl) if bgl.exists() else None
    report = {"parsing": parsing, "detection": detection}
    if args.json:
        return print_json(report)
    _print_parsing(parsing)
    if detection:
        print(f"\nanomaly detection on {bgl.name} ({detection['anomalies']} of "
              f"{detection['lines']} lines)")
        for name, m in detection["methods"].items():
            print(f"  {name:17s} line P/R/F1 {m['line']['precision']:.3f}/"
                  f"{m['line']['recall']:.3f}/{m['line']['f1']:.3f}   window "
                  f"{m['window']['f1']:.3f}")
    return 0


def _print_parsing(parsing: dict) -> None:
    print(f"{'system':12s} {'parser':7s} {'GA':>6s} {'PA':>6s} {'FGA':>6s} {'FTA':>6s} "
          f"{'lines/s':>9s}")
    for system, row in parsing.items():
        for name, m in row.items():
            print(f"{system:12s} {name:7s} {m['GA']:6.3f} {m['PA']:6.3f} {m['FGA']:6.3f} "
                  f"{m['FTA']:6.3f} {m['lines_per_s']:9.0f}")
