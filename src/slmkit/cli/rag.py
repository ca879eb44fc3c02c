"""`slm rag ACTION ...`: ingest documents, query, ask with citations, list, drop, evaluate.

This module only maps arguments and wires the store and runtime (embedders, engines) to
``slmkit.rag``; the work is done there.
"""

from __future__ import annotations

import sys

DEFAULT_EMBEDDER = "all-minilm-l6-v2"
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

def load_embedder(name: str | None, args=None):
    from slmkit.models.store import Store
    from slmkit.runtime.sentence import load_embedder as load

    ref = Store().resolve(name or DEFAULT_EMBEDDER,
                          pull_missing=not getattr(args, "no_pull", False))
    return load(ref.path, name=ref.name, threads=getattr(args, "threads", 0) or 0)


def _open(name: str, *, create: bool = False):
    from slmkit.rag.store import Collection

    return Collection(name, create=create)


def _embedder_for(coll, args):
    return load_embedder(args.embedder or coll.embedder, args)


def _filters(args):
    from slmkit.rag.retrieve import Filters

    return Filters(path=args.path, types=tuple(args.types), since=_date(args.since),
                   until=_date(args.until))


def _date(text: str | None) -> float | None:
    if text is None:
        return None
    from datetime import datetime

    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        raise ValueError(f"dates look like 2026-11-28 or 2026-11-28T10:00, got {text!r}") from None


def _engine(model: str | None, args):
    from slmkit.cli.common import open_engine

    args.no_pull = getattr(args, "no_pull", False)
    return open_engine(model, args)


# ---- actions --------------------------------------------------------------------------------

def run(args) -> int:
    return {"ingest": _ingest, "query": _query, "ask": _ask, "list": _list, "drop": _drop,
            "eval": _eval, "synth": _synth}[args.action](args)


def _ingest(args) -> int:
    from slmkit.cli.output import Progress
    from slmkit.cli.output import print_json
    from slmkit.rag.ingest import ingest

    with _open(args.collection, create=True) as coll:
        embedder = _embedder_for(coll, args)
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
        embedder = _embedder_for(coll, args) if args.mode != "bm25" or args.mmr else None
        hits = search(coll, embedder, args.question, k=args.k, mode=args.mode,
                      filters=_filters(args), mmr=args.mmr)
    if args.json:
        print_json({"collection": args.collection, "query": args.question, "mode": args.mode,
                    "results": [h.to_dict() for h in hits]})
        return 0
    out = _console()
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


def _console():
    from slmkit.cli.output import stdout_console

    return stdout_console()


def _retriever(coll, embedder, args):
    from slmkit.rag.retrieve import Retriever

    return Retriever(coll, embedder, mode=args.mode, filters=_filters(args), mmr=args.mmr)


def _ask(args) -> int:
    from rich.markup import escape

    from slmkit.cli.output import print_json
    from slmkit.rag.answer import DEFAULT_THRESHOLD, answer

    with _open(args.collection) as coll:
        embedder = _embedder_for(coll, args)
        loaded = _engine(args.model, args)
        try:
            ans = answer(loaded.engine, _retriever(coll, embedder, args), args.question,
                         k=args.k, max_tokens=args.max_tokens,
                         threshold=DEFAULT_THRESHOLD if args.threshold is None else args.threshold)
        finally:
            loaded.engine.close()
    if args.json:
        print_json(dict(ans.to_dict(), model=loaded.name))
        return 0
    out = _console()
    out.print(ans.text, highlight=False, markup=False)
    if ans.citations():
        how = "" if ans.cited_by_model else " (attributed by word overlap: the model cited none)"
        out.print(f"\n[dim]sources{how}:[/]", highlight=False)
        for c in ans.citations():
            out.print(f"  \\[{c['n']}] {escape(c['locator'])}  [dim]{escape(c['source'])}[/]",
                      highlight=False)
    elif not ans.grounded:
        out.print(f"[dim](best match cosine {ans.top_similarity:.2f} is under the threshold)[/]")
    return 0


def _list(args) -> int:
    from slmkit.cli.output import print_json
    from slmkit.rag.service import RagService

    rows = RagService(lambda name: load_embedder(name)).list()
    if args.json:
        print_json(rows)
        return 0
    from rich.table import Table

    table = Table("collection", "documents", "chunks", "embedder", "size")
    for r in rows:
        table.add_row(r["name"], str(r.get("documents", "?")), str(r.get("chunks", "?")),
                      str(r.get("embedder") or r.get("error", "")),
                      f"{r.get('bytes', 0) / 1e6:.1f} MB")
    _console().print(table)
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
    from slmkit.rag.answer import answer
    from slmkit.rag.evaluate import answer_metrics, load_qa, retrieval_metrics
    from slmkit.rag.retrieve import search

    qa = load_qa(args.qa)
    with _open(args.collection) as coll:
        embedder = _embedder_for(coll, args)
        report = {"collection": args.collection, "qa": args.qa, "mode": args.mode}
        report["retrieval"] = retrieval_metrics(
            lambda q, n: search(coll, embedder, q, k=n, mode=args.mode,
                                filters=_filters(args), mmr=args.mmr), qa, k=args.k)
        if args.answers:
            loaded = _engine(args.model, args)
            judge = _engine(args.judge, args).engine if args.judge else None
            try:
                retriever = _retriever(coll, embedder, args)
                report["answers"] = answer_metrics(
                    lambda q: answer(loaded.engine, retriever, q, k=args.k), qa,
                    embedder=embedder, judge=judge, limit=args.answers)
                report["answers"]["model"] = loaded.name
            finally:
                loaded.engine.close()
                if judge is not None:
                    judge.close()
    if args.json:
        print_json(report)
        return 0
    r = report["retrieval"]
    out = _console()
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


# ---- `slm serve`: the model name rag:COLLECTION ------------------------------------------

class RagLoader:
    """Wraps the server's store loader: ``rag:COLLECTION`` is the base model (the first
    model named on the command line, else the default) answering from that collection."""

    PREFIX = "rag:"

    def __init__(self, inner, args, service) -> None:
        self.inner, self.args, self.service = inner, args, service
        self._base: dict[str, object] = {}

    def _base_name(self) -> str:
        from slmkit.models import catalog
        from slmkit.settings import get_settings

        return (getattr(self.args, "rag_model", None) or (self.args.models or [None])[0]
                or get_settings().default_model or catalog.default_model().name)

    def __getattr__(self, name: str):
        return getattr(self.inner, name)

    def resolve(self, name: str, **kw):
        if not (name or "").startswith(self.PREFIX):
            return self.inner.resolve(name, **kw)
        from slmkit.core.errors import ModelNotFoundError
        from slmkit.rag.store import CollectionNotFoundError, check_name
        from slmkit.serve.registry import ModelSpec

        collection = name[len(self.PREFIX):]
        try:
            check_name(collection)
            self.service.retriever(collection)
        except (ValueError, CollectionNotFoundError) as err:
            raise ModelNotFoundError(name, hint=f"{err}; GET /v1/rag/collections lists "
                                                "them") from None
        base = self.inner.resolve(self._base_name(), **kw)
        self._base[name] = base
        return ModelSpec(name, base.memory_bytes)

    def load(self, spec):
        if not spec.name.startswith(self.PREFIX):
            return self.inner.load(spec)
        from slmkit.rag.engine import RagEngine

        result = self.inner.load(self._base[spec.name])
        retriever = self.service.retriever(spec.name[len(self.PREFIX):])
        result.engine = RagEngine(result.engine, retriever, name=spec.name)
        return result

    def available(self):
        from slmkit.core.engine import ModelInfo
        from slmkit.rag.store import list_collections
        from slmkit.serve.registry import Available

        return self.inner.available() + [Available(self.PREFIX + c, info=ModelInfo(
            name=self.PREFIX + c)) for c in list_collections()]


def rag_service():
    from slmkit.rag.service import RagService

    return RagService(lambda name: load_embedder(name))
