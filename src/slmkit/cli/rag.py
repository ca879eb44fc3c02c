"""`slm rag ACTION ...`: ingest documents, query, ask with citations, list, drop, evaluate.

This module only maps arguments and wires the store and runtime (embedders, engines) to
``slmkit.rag``; the work is done there.
"""

from __future__ import annotations

import sys

from slmkit.cli.output import stdout_console

DEFAULT_EMBEDDER = "all-minilm-l6-v2-int8"  # rag.service.DEFAULT_EMBEDDER (kept light for --help)
MODES = ("hybrid", "dense", "bm25")


def configure(p) -> None:
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    ing = sub.add_parser("ingest", help="add or refresh files and folders in a collection")
    ing.add_argument("collection")
    ing.add_argument("paths", nargs="+", metavar="PATH")
    ing.add_argument("--chunk-tokens", type=int, default=200, metavar="N",
                     help="tokens per chunk (capped by the embedder's input limit; default 200)")
    ing.add_argument("--overlap", type=int, default=32, metavar="N",
                     help="tokens shared by neighbouring chunks (default 32)")
    ing.add_argument("--batch", type=int, default=64, metavar="N", help="embedding batch size")
    ing.add_argument("--no-prune", action="store_true",
                     help="keep documents whose files were deleted from the named folders")
    q = sub.add_parser("query", help="the top chunks for a question, with scores and sources")
    q.add_argument("collection")
    q.add_argument("question")
    _retrieval_args(q)
    a = sub.add_parser("ask", help="an answer grounded in the collection, with citations")
    a.add_argument("collection")
    a.add_argument("question")
    a.add_argument("--model", default=None, help="language model (default: the catalog default)")
    a.add_argument("--max-tokens", type=int, default=256, metavar="N")
    a.add_argument("--threshold", type=float, default=None, metavar="COS",
                   help="say \"I don't know\" when the best chunk's cosine similarity is below "
                        "this (default: the measured 0.26)")
    a.add_argument("--ctx", type=int, default=4096, metavar="N")
    _retrieval_args(a)
    sub.add_parser("list", help="collections with their sizes and embedders")
    d = sub.add_parser("drop", help="delete a collection")
    d.add_argument("collection")
    e = sub.add_parser("eval", help="hit@k, MRR@10 and answer faithfulness on a QA file")
    e.add_argument("collection")
    e.add_argument("--qa", required=True, metavar="FILE",
                   help="JSONL: question, evidence (text the right chunk holds), source, kind")
    e.add_argument("--answers", type=int, default=0, metavar="N",
                   help="also answer the first N questions and score faithfulness")
    e.add_argument("--model", default=None, help="language model for --answers")
    e.add_argument("--judge", default=None, metavar="MODEL",
                   help="score faithfulness with this local model instead of word overlap")
    e.add_argument("--ctx", type=int, default=4096, metavar="N")
    _retrieval_args(e)
    s = sub.add_parser("synth", help="write the offline test corpus and QA set to a folder")
    s.add_argument("folder")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--no-prose", action="store_true",
                   help="identifier documents only (no packaged Wikipedia text)")
    for sp in (ing, q, a, e, s, d):
        sp.add_argument("--json", action="store_true", help="machine-readable JSON output")
    for sp in (ing, q, a, e):
        sp.add_argument("--embedder", default=None, metavar="NAME",
                        help=f"embedding model (default: the collection's, else "
                             f"{DEFAULT_EMBEDDER})")
        sp.add_argument("--threads", type=int, default=0, metavar="N")
        sp.add_argument("--no-pull", action="store_true",
                        help="fail instead of pulling a missing model")
        sp.add_argument("--verbose", action="store_true")
    sub.choices["list"].add_argument("--json", action="store_true")


def _retrieval_args(p) -> None:
    p.add_argument("-k", type=int, default=5, help="chunks to return (default 5)")
    p.add_argument("--mode", choices=MODES, default="hybrid")
    p.add_argument("--mmr", type=float, default=None, metavar="LAMBDA",
                   help="diversify with maximal marginal relevance (e.g. 0.7)")
    p.add_argument("--path", default=None, metavar="GLOB", help="only files matching GLOB")
    p.add_argument("--type", action="append", default=[], dest="types", metavar="TYPE",
                   help="only these types (pdf, markdown, html, code, …; repeatable)")
    p.add_argument("--since", default=None, metavar="DATE", help="only files modified since")
    p.add_argument("--until", default=None, metavar="DATE", help="only files modified until")


# ---- wiring ---------------------------------------------------------------------------------

def _embedder(coll, args):
    from slmkit.rag.serving import store_embedder

    return store_embedder(args.embedder or coll.embedder, pull_missing=not args.no_pull,
                          threads=args.threads)


def _open(name: str, *, create: bool = False):
    from slmkit.rag.store import Collection

    return Collection(name, create=create)


def _filters(args):
    from slmkit.rag.retrieve import Filters

    return Filters.parse(args.path, args.types, args.since, args.until)


def _engine(model: str | None, args):
    from slmkit.cli.common import open_engine

    return open_engine(model, args)


# ---- actions --------------------------------------------------------------------------------

def run(args) -> int:
    return {"ingest": _ingest, "query": _query, "ask": _ask, "list": _list, "drop": _drop,
            "eval": _eval, "synth": _synth}[args.action](args)


def _ingest(args) -> int:
    from slmkit.cli.output import Progress, print_json
    from slmkit.rag.ingest import ingest

    with _open(args.collection, create=True) as coll:
        embedder = _embedder(coll, args)
        with Progress(enabled=not args.json and sys.stderr.isatty()) as progress:
            report = ingest(coll, args.paths, embedder, size=args.chunk_tokens,
                            overlap=args.overlap, batch_size=args.batch,
                            prune=not args.no_prune, progress=progress)
    if args.json:
        print_json(report)
    else:
        _print_ingest(report)
    return 1 if report.failed and not (report.added or report.updated or report.unchanged) else 0


def _print_ingest(r) -> None:
    from rich.markup import escape

    from slmkit.cli.output import stderr_console, stdout_console

    out = stdout_console()
    out.print(f"{r.collection}: {len(r.added)} added, {len(r.updated)} updated, "
              f"{len(r.unchanged)} unchanged, {len(r.removed)} removed, {len(r.failed)} failed "
              f"· {r.chunks} chunks in {r.seconds:.1f} s "
              f"({r.chunks / r.seconds if r.seconds else 0:.0f} chunks/s; embedding "
              f"{r.embed_seconds:.1f} s)", highlight=False)
    err = stderr_console()
    for f in r.failed:
        err.print(f"[yellow]skipped[/] {escape(f['path'])}: {escape(f['reason'])}",
                  highlight=False, soft_wrap=True)
    if r.skipped:
        err.print(f"[dim]{len(r.skipped)} files of unsupported types ignored[/]")


def _query(args) -> int:
    from slmkit.cli.output import print_json
    from slmkit.rag.retrieve import search

    with _open(args.collection) as coll:
        embedder = _embedder(coll, args) if args.mode != "bm25" or args.mmr else None
        hits = search(coll, embedder, args.question, k=args.k, mode=args.mode,
                      filters=_filters(args), mmr=args.mmr)
    if args.json:
        print_json({"collection": args.collection, "query": args.question, "mode": args.mode,
                    "results": [h.to_dict() for h in hits]})
        return 0
    out = stdout_console()
    if not hits:
        out.print("no matching chunks")
    for i, h in enumerate(hits, 1):
        out.print(f"[bold]{i}. {h.locator()}[/]  score {h.score:.4f} · cosine "
                  f"{h.similarity:.3f}  [dim]{h.source}[/]", highlight=False)
        out.print(_snippet(h.text), highlight=False, markup=False)
    return 0


def _snippet(text: str, n: int = 300) -> str:
    one = " ".join(text.split())
    return "   " + (one[:n] + "…" if len(one) > n else one)


def _ask(args) -> int:
    from rich.markup import escape

    from slmkit.cli.output import print_json
    from slmkit.rag.answer import DEFAULT_THRESHOLD, answer
    from slmkit.rag.retrieve import Retriever

    with _open(args.collection) as coll:
        embedder = _embedder(coll, args)
        loaded = _engine(args.model, args)
        try:
            retriever = Retriever(coll, embedder, mode=args.mode, filters=_filters(args),
                                  mmr=args.mmr)
            ans = answer(loaded.engine, retriever, args.question,
                         k=args.k, max_tokens=args.max_tokens,
                         threshold=DEFAULT_THRESHOLD if args.threshold is None else args.threshold)
        finally:
            loaded.engine.close()
    if args.json:
        return print_json(dict(ans.to_dict(), model=loaded.name))
    out = stdout_console()
    out.print(ans.text, highlight=False, markup=False)
    if ans.rejected:
        wrong = ", ".join(f"[{n}]" for n in ans.rejected)
        out.print(f"\n[dim]the model cited {escape(wrong)}, which does not support the "
                  "answer: dropped[/]", highlight=False)
    if ans.citations():
        how = "" if ans.cited_by_model else " (attributed by word overlap, checked)"
        out.print(f"\n[dim]sources{how}:[/]", highlight=False)
        for c in ans.citations():
            out.print(f"  \\[{c['n']}] {escape(c['locator'])}  [dim]{escape(c['source'])}[/]",
                      highlight=False)
    elif not ans.grounded and ans.generate_seconds:
        out.print("[dim](not grounded: no source supports this answer)[/]")
    elif not ans.grounded:
        out.print(f"[dim](best match cosine {ans.top_similarity:.2f} is under the threshold)[/]")
    return 0


def _list(args) -> int:
    from slmkit.cli.output import print_json
    from slmkit.rag.serving import rag_service

    rows = rag_service().list()
    if args.json:
        return print_json(rows)
    from rich.table import Table

    table = Table("collection", "documents", "chunks", "embedder", "size")
    for r in rows:
        table.add_row(r["name"], str(r.get("documents", "?")), str(r.get("chunks", "?")),
                      str(r.get("embedder") or r.get("error", "")),
                      f"{r.get('bytes', 0) / 1e6:.1f} MB")
    stdout_console().print(table)
    return 0


def _drop(args) -> int:
    from slmkit.cli.output import print_json
    from slmkit.rag.store import CollectionNotFoundError, drop_collection, list_collections

    if not drop_collection(args.collection):
        raise CollectionNotFoundError(args.collection, list_collections())
    if args.json:
        print_json({"dropped": args.collection})
    else:
        print(f"dropped {args.collection}")
    return 0


def _eval(args) -> int:
    from slmkit.cli.output import print_json
    from slmkit.rag.evaluate import evaluate_collection, load_qa

    qa = load_qa(args.qa)
    loaded = judge = None
    with _open(args.collection) as coll:
        embedder = _embedder(coll, args)
        try:
            if args.answers:
                loaded = _engine(args.model, args)
                judge = _engine(args.judge, args).engine if args.judge else None
            report = {"collection": args.collection, "qa": args.qa, "mode": args.mode,
                      **evaluate_collection(coll, embedder, qa, k=args.k, mode=args.mode,
                                            filters=_filters(args), mmr=args.mmr,
                                            engine=loaded and loaded.engine, judge=judge,
                                            answers=args.answers)}
        finally:
            for eng in (loaded and loaded.engine, judge):
                if eng is not None:
                    eng.close()
    if "answers" in report:
        report["answers"]["model"] = loaded.name
    if args.json:
        return print_json(report)
    r = report["retrieval"]
    out = stdout_console()
    out.print(f"{args.collection} ({args.mode}, {r['n']} questions): hit@{r['k']} "
              f"{r[f'hit@{args.k}']:.3f} · MRR@10 {r['mrr@10']:.3f}", highlight=False)
    for kind, m in r["by_kind"].items():
        out.print(f"  {kind}: n={m['n']} hit@{r['k']} {m[f'hit@{args.k}']:.3f} · MRR@10 "
                  f"{m['mrr@10']:.3f}", highlight=False)
    if "answers" in report:
        a = report["answers"]
        out.print(f"answers ({a['model']}, {a['n']}): faithfulness {a['faithfulness']} · "
                  f"cited by model {a['cited_by_model']}/{a['answers_scored']} · "
                  f"\"I don't know\" on unanswerable {a['dont_know_on_unanswerable']}, "
                  f"on answerable {a['dont_know_on_answerable']}", highlight=False)
    return 0


def _synth(args) -> int:
    from slmkit.cli.output import print_json
    from slmkit.rag.synthetic import build_corpus

    passages = None
    if not args.no_prose:
        from slmkit.evaluate import datasets

        passages = datasets.load_texts(datasets.resolve("wikipedia", kind="text"))
    corpus = build_corpus(args.folder, passages, seed=args.seed)
    if args.json:
        print_json(corpus)
    else:
        print(f"wrote {corpus.n_documents} documents to {corpus.folder} and "
              f"{corpus.n_questions} questions to {corpus.qa_path}")
    return 0
