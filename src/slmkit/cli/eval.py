"""`slm eval [MODEL]`: perplexity, KL-divergence against a reference, multiple-choice accuracy."""

from __future__ import annotations

import sys


def configure(p) -> None:
    from slmkit.cli.args import Opt, config_options, engine, json_option, loading, model, options
    from slmkit.evaluate.suite import MEASURE, EvalPlan

    model(p)
    engine(p)
    options(config_options(p, EvalPlan)[MEASURE],
            list_data=Opt(False, "list the named datasets and exit"))
    options(p.add_argument_group("fan-out (docs/scale.md)"),
            ray=Opt(False, "score --ppl/--choice in parallel Ray tasks, each opening the model "
                           "with --threads (default 1) threads; same numbers as a local run"),
            address=Opt(None, "with --ray: an existing Ray cluster (default: a local head)"),
            shards=Opt(2, "with --ray: parts the scoring is split into", type=int))
    loading(p)
    options(p, out=Opt(None, "also write PREFIX.json and PREFIX.md", "PREFIX"))
    json_option(p)


def run(args) -> int:
    from slmkit.cli.args import config_from
    from slmkit.cli.common import open_engine, resolve_model
    from slmkit.cli.output import print_json, progress, show
    from slmkit.evaluate.datasets import catalog_rows, catalog_table
    from slmkit.evaluate.report import eval_markdown, write
    from slmkit.evaluate.suite import EvalPlan, Reference, evaluate_engine
    from slmkit.models.load import load
    from slmkit.scale.ray_batch import eval_spread

    if args.list_data:
        return print_json(catalog_rows()) if args.json else show(catalog_table())
    plan = config_from(args, EvalPlan)
    if plan.kld and not plan.reference:
        raise ValueError("--kld needs --reference MODEL (the model to compare against)")
    reference = None
    if plan.kld:  # opened only when its logits are not cached
        m = resolve_model(plan.reference, args)
        reference = Reference(m.name, m.path, m.backend, lambda: load(
            m, n_ctx=args.ctx, n_threads=args.threads, verbose=args.verbose))
    with open_engine(args.model, args, args.engine) as loaded, progress(args) as bars:
        spread = eval_spread(loaded.model, address=args.address, shards=args.shards,
                             n_ctx=args.ctx, threads=args.threads) if args.ray else None
        report = {"model": loaded.name, "path": loaded.model.path,
                  "engine": loaded.model.backend, "threads": loaded.engine.n_threads,
                  **evaluate_engine(loaded.engine, plan, reference=reference, progress=bars,
                                    spread=spread)}
    md = eval_markdown(report)
    if args.out:
        write(report, md, args.out)
    if args.json:
        return print_json(report)
    sys.stdout.write(md)
    return 0

