"""`slm logs parse|detect|explain|eval`: templates, anomalies and their explanations as JSON
lines (docs/apps-ops.md); the work is in slmkit.apps.logs."""

from __future__ import annotations

import argparse
import json
import sys
from contextlib import contextmanager

from slmkit.cli.args import Opt, actions, json_option, options, settings_loading

CORRECT_MODEL = "qwen2.5-coder-0.5b-instruct"


def configure(p: argparse.ArgumentParser) -> None:
    sub = actions(p)
    parse = sub.add_parser("parse", help="mine templates: one JSON line per event")
    detect = sub.add_parser("detect", help="flag unusual events (JSON lines)")
    explain = sub.add_parser("explain", help="detect, then explain each anomaly with a model")
    for q in (parse, detect, explain):
        q.add_argument("input", metavar="FILE|-", help="log to read ('-': standard input)")
        options(q, format=Opt("auto", "header format: auto, a preset (hdfs, bgl, linux, "
                                      "syslog, ...) or a Loghub format like '<Date> <Time> "
                                      "<Level> <Component>: <Content>' (default: auto)", "FMT"),
                state=Opt(None, "parser state to resume and update (template ids stay stable)",
                          "FILE"),
                no_multiline=Opt(False, "one event per line (no stack-trace grouping)"))
    options(parse, templates=Opt(False, "print the templates with counts at the end instead "
                                        "of events"))
    ev = sub.add_parser("eval", help="parsing accuracy on Loghub-2k and anomaly P/R/F1 on BGL")
    for q in (parse, ev):
        options(q, correct=Opt(False, "let a model rewrite each new template into Loghub's "
                                      "<*> convention (one call per template, cached; kept "
                                      "only when it matches the template's lines)"),
                model=Opt(None, f"model for --correct (default {CORRECT_MODEL})"))
        settings_loading(q)
    for q in (detect, explain):
        options(q, baseline=Opt(None, "a period of normal operation: learnt first, sets the "
                                      "threshold", "FILE"),
                threshold=Opt(1.0, "minimum score of an anomaly (default 1.0; a baseline may "
                                   "raise it)"))
    options(detect, follow=Opt(False, "keep reading FILE as it grows (like tail -F)"),
            all=Opt(False, "print every event with its score"))
    options(explain, model=Opt(None, "model to explain with (default: the default model)"),
            limit=Opt(20, "explain at most this many anomalies (default 20)"),
            rag=Opt(None, "a document collection of runbooks to ground the advice in", "NAME"))
    settings_loading(explain)
    json_option(explain)
    options(ev, data=Opt("../shared/data", "folder with loghub-2k/ and bgl-anomaly/ (default "
                                           "../shared/data)"),
            systems=Opt("", "comma-separated Loghub systems (default: all)"),
            compare=Opt(False, "run drain3 on the same lines as the anchor (needs "
                               "slmkit[apps])"))
    json_option(ev)


def run(args: argparse.Namespace) -> int:
    return {"parse": _parse, "detect": _detect, "explain": _explain,
            "eval": _eval}[args.action](args)


def _parser(args, corrector=None):
    from slmkit.apps.logs.parser import LogParser

    return LogParser(fmt=args.format, state=args.state, multiline=not args.no_multiline,
                     corrector=corrector)


@contextmanager
def _corrector(args):
    """The template corrector of --correct on its own loaded model (None without it)."""
    if not args.correct:
        yield None
        return
    from slmkit.apps.logs.correct import TemplateCorrector
    from slmkit.cli.common import open_engine

    with open_engine(args.model or CORRECT_MODEL, args) as loaded:
        yield TemplateCorrector(loaded.engine)


def _write(records) -> None:
    """JSON lines on stdout, each flushed (``detect --follow`` shows them as they come)."""
    for rec in records:
        sys.stdout.write(json.dumps(rec, ensure_ascii=False) + "\n")
        sys.stdout.flush()


def _detector(args, parser):
    from slmkit.apps.logs.report import detector
    from slmkit.apps.logs.stream import baseline_text

    det, info = detector(parser, args.threshold, args.baseline)
    if info is not None:
        sys.stderr.write(baseline_text(info) + "\n")
    return det


def _parse(args) -> int:
    from slmkit.apps.logs.stream import parse_records

    with _corrector(args) as corrector:
        parser = _parser(args, corrector)
        _write(parse_records(args.input, parser, templates=args.templates))
    if corrector is not None:
        sys.stderr.write(corrector.summary(parser.drain.lines) + "\n")
    return 0


def _detect(args) -> int:
    from slmkit.apps.logs.stream import detect_records

    parser = _parser(args)
    _write(detect_records(args.input, parser, _detector(args, parser), follow=args.follow,
                          every=args.all))
    return 0


def _explain(args) -> int:
    from slmkit.apps.logs.report import explain_log, read_lines
    from slmkit.cli.common import open_engine
    from slmkit.cli.output import emit
    from slmkit.rag.serving import passage_search

    if args.limit < 1:
        raise ValueError("--limit must be at least 1")
    parser = _parser(args)
    det = _detector(args, parser)
    lines = list(read_lines(args.input))
    with open_engine(args.model, args) as loaded:
        report = explain_log(lines, parser, det, loaded.engine, loaded.name, limit=args.limit,
                             retrieve=passage_search(args.rag, threads=args.threads)
                             if args.rag else None)
    return emit(args, report.to_dict(), report.text())


def _eval(args) -> int:
    from slmkit.apps.logs.report import eval_text, evaluate_data
    from slmkit.cli.output import emit

    with _corrector(args) as corrector:
        report = evaluate_data(args.data, [s for s in args.systems.split(",") if s],
                               args.compare, corrector=corrector)
    return emit(args, report, eval_text(report))
