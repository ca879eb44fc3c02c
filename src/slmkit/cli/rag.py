"""`slm rag ACTION ...`: ingest documents, query, ask with citations, list, drop, evaluate.

This module only maps arguments and wires the store and runtime (embedders, engines) to
``slmkit.rag``; the work is done there.
"""

from __future__ import annotations

from slmkit.cli.args import NO_PULL_HELP, Opt, actions, json_option, options
from slmkit.cli.output import stdout_console

DEFAULT_EMBEDDER = "all-minilm-l6-v2-int8"  # rag.service.DEFAULT_EMBEDDER (kept light for --help)


def configure(p) -> None:
    from slmkit.cli.args import config_options
    from slmkit.rag.flows import Retrieval

    sub = actions(p)
    ing = sub.add_parser("ingest", help="add or refresh files and folders in a collection")
    ing.add_argument("collection")
    ing.add_argument("paths", nargs="+", metavar="PATH")
    options(ing, chunk_tokens=Opt(200, "tokens per chunk (capped by the embedder's input "
                                       "limit)"),
            overlap=Opt(32, "tokens shared by neighbouring chunks"),
            batch=Opt(64, "embedding batch size"),
            no_prune=Opt(False, "keep documents whose files were deleted from the named "
                                "folders"),
            ray=Opt(False, "read, chunk and embed in parallel Ray tasks (docs/scale.md); "
                           "same collection as without"),
            address=Opt(None, "with --ray: an existing Ray cluster (default: a local head)"))
    q = sub.add_parser("query", help="the top chunks for a question, with scores and sources")
    a = sub.add_parser("ask", help="an answer grounded in the collection, with citations")
    e = sub.add_parser("eval", help="hit@k, MRR@10 and answer faithfulness on a QA file")
    for sp in (q, a, e):
        sp.add_argument("collection")
    for sp in (q, a):
        sp.add_argument("question")
    options(a, model=Opt(None, "language model (default: the catalog default)"),
            max_tokens=256,
            threshold=Opt(None, "say \"I don't know\" when the best chunk's cosine similarity "
                                "is below this (default: the measured 0.26)", "COS", float))
    options(e, qa=Opt(None, "JSONL: question, evidence (text the right chunk holds), source, "
                            "kind", "FILE", required=True),
            answers=Opt(0, "also answer the first N questions and score faithfulness"),
            model=Opt(None, "language model for --answers"),
            judge=Opt(None, "score faithfulness with this local model instead of word overlap",
                      "MODEL"))
    sub.add_parser("list", help="collections with their sizes and embedders")
    d = sub.add_parser("drop", help="delete a collection")
    d.add_argument("collection")
    s = sub.add_parser("synth", help="write the offline test corpus and QA set to a folder")
    s.add_argument("folder")
    options(s, seed=0, no_prose=Opt(False, "identifier documents only (no packaged Wikipedia "
                                           "text)"))
    for sp in (q, a, e):
        config_options(sp, Retrieval)
    for sp in (a, e):
        options(sp, ctx=4096)
    for sp in (ing, q, a, e):
        options(sp, embedder=Opt(None, "embedding model (default: the collection's, else "
                                       f"{DEFAULT_EMBEDDER})", "NAME"),
                threads=0, no_pull=Opt(False, NO_PULL_HELP), verbose=False)
    for sp in sub.choices.values():
        json_option(sp)


# ---- actions --------------------------------------------------------------------------------

def run(args) -> int:
    return {"ingest": _ingest, "query": _query, "ask": _ask, "list": _list, "drop": _drop,
            "eval": _eval, "synth": _synth}[args.action](args)


def _embedding(args):
    from slmkit.rag.flows import Embedding

    return Embedding(args.embedder, pull=not args.no_pull, threads=args.threads)


def _retrieval(args):
    from slmkit.cli.args import config_from
    from slmkit.rag.flows import Retrieval

    return config_from(args, Retrieval)


def _ingest(args) -> int:
    from slmkit.cli.output import emit, progress, stderr_console
    from slmkit.rag.flows import ingest_paths
    from slmkit.rag.present import print_ingest

    fan_out = None
    if args.ray:
        from slmkit.scale.ray_batch import RayFanOut

        fan_out = RayFanOut(args.address)
    with progress(args) as bars:
        r = ingest_paths(args.collection, args.paths, _embedding(args), fan_out=fan_out,
                         size=args.chunk_tokens, overlap=args.overlap, batch_size=args.batch,
                         prune=not args.no_prune, progress=bars)
    emit(args, r, lambda con: print_ingest(con, stderr_console(), r))
    return 1 if r.failed and not (r.added or r.updated or r.unchanged) else 0


def _query(args) -> int:
    from slmkit.cli.output import emit
    from slmkit.rag.flows import query
    from slmkit.rag.present import print_hits

    hits = query(args.collection, args.question, _retrieval(args), _embedding(args))
    return emit(args, {"collection": args.collection, "query": args.question,
                       "mode": args.mode, "results": [h.to_dict() for h in hits]},
                lambda con: print_hits(con, hits))


def _ask(args) -> int:
    from slmkit.cli.common import open_engine
    from slmkit.cli.output import emit
    from slmkit.rag.flows import ask, require
    from slmkit.rag.present import print_answer

    require(args.collection)
    with open_engine(args.model, args) as loaded:
        ans = ask(args.collection, args.question, loaded.engine, _retrieval(args),
                  _embedding(args), max_tokens=args.max_tokens, threshold=args.threshold)
    return emit(args, dict(ans.to_dict(), model=loaded.name),
                lambda con: print_answer(con, ans))


def _list(args) -> int:
    from slmkit.cli.output import emit, table
    from slmkit.rag.present import collection_rows
    from slmkit.rag.serving import rag_service

    rows = rag_service().list()
    return emit(args, rows, lambda con: con.print(table(
        "collection", "documents", "chunks", "embedder", "size", rows=collection_rows(rows)),
        highlight=False))


def _drop(args) -> int:
    from slmkit.cli.output import emit
    from slmkit.rag.flows import drop

    drop(args.collection)
    return emit(args, {"dropped": args.collection}, f"dropped {args.collection}")


def _eval(args) -> int:
    from contextlib import ExitStack

    from slmkit.cli.common import open_engine
    from slmkit.cli.output import print_json
    from slmkit.rag.evaluate import summary_lines
    from slmkit.rag.flows import evaluate, require

    require(args.collection)
    with ExitStack() as stack:
        loaded = stack.enter_context(open_engine(args.model, args)) if args.answers else None
        judge = stack.enter_context(open_engine(args.judge, args)).engine if (
            args.answers and args.judge) else None
        report = evaluate(args.collection, args.qa, _retrieval(args), _embedding(args),
                          engine=loaded and loaded.engine, model=loaded and loaded.name,
                          judge=judge, answers=args.answers)
    if args.json:
        return print_json(report)
    for line in summary_lines(report):
        stdout_console().print(line, highlight=False)
    return 0


def _synth(args) -> int:
    from slmkit.cli.output import emit
    from slmkit.rag.flows import synth

    c = synth(args.folder, prose=not args.no_prose, seed=args.seed)
    return emit(args, c, f"wrote {c.n_documents} documents to {c.folder} and "
                         f"{c.n_questions} questions to {c.qa_path}")
