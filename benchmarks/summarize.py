"""Summarization benchmark, one run: models against the lead-3 and TextRank baselines on
the Korean news set, map-reduce against refine on forced-long inputs, and re-summarizing
an edited document with the piece cache.

    SLM_HOME=~/.cache/slmkit/test-home python benchmarks/summarize.py \
        [--models smollm2-135m-instruct,qwen2.5-coder-0.5b-instruct] [--limit N] \
        [--strategies MODEL] [--split-ctx 1536] [--threads 2]

Scores (see slmkit.apps.summarize.evaluate): ROUGE-1/2/L F over Kiwi morphemes against the
gold extract, gold-sentence recall, length in characters, numbers/dates of the summary not
in the article, seconds per article. ROUGE ratios are printed against lead-3 (the anchor,
measured in the same run). The machine is shared: the load average is reported with the
timings, which only mean something as ratios within the run.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _common import machine, save

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ko-news-sum"
ROWS = Path(__file__).parent / "results" / "rows"


def _load(name: str, threads: int, ctx: int):
    import slmkit

    return slmkit.load(name, n_ctx=ctx, n_threads=threads, pull=False, n_parallel=1)


def _cache(args, model: str) -> Path:
    return Path(args.cache_dir) / f"{args.set}-{model}-bullets-{args.max_words}w.jsonl"


def cached_articles(articles, models: list[str], args) -> list:
    """The articles every model has in its cache (a run cut short: its largest prefix)."""
    from slmkit.util.files import read_rows

    done = [set(read_rows(_cache(args, m), "article")) for m in models]
    return [a for a in articles if all(a.name in d for d in done)]


def _row(name: str, m: dict, anchor: dict | None) -> str:
    ratio = f"{m['rouge1'] / anchor['rouge1']:.2f}×" if anchor and anchor["rouge1"] else "-"
    return (f"| {name} | {m['rouge1']:.3f} | {m['rouge2']:.3f} | {m['rougeL']:.3f} | {ratio} | "
            f"{m['gold_recall']:.2f} | {m['chars']:.0f} | {m['unsupported_numbers']:.2f} | "
            f"{m['seconds']:.2f} | {m['n']} |")


def quality(articles, models: list[str], args, log) -> tuple[dict, list[str]]:
    from slmkit.apps.summarize import evaluate as ev
    from slmkit.apps.summarize.pipeline import SummaryOptions

    results, lines = {}, []
    for kind in ("lead3", "textrank"):
        rows = list(ev.run_system(articles, ev.baseline(kind)))
        results[kind] = {"mean": ev.mean(rows), "rows": rows}
    anchor = results["lead3"]["mean"]
    opts = SummaryOptions(style="bullets", lang=args.set, max_words=args.max_words)
    for name in models:
        cache = _cache(args, name)
        todo = [a for a in articles if a.name not in ev.read_rows(cache, "article")]
        log(f"{name}: {len(articles) - len(todo)} cached, {len(todo)} to run ({cache})")
        engine = _load(name, args.threads, args.ctx) if todo else None
        try:
            rows = list(ev.run_system(articles, ev.model_system(engine, opts),
                                      lambda i, n: log(f"  {name}: {i}/{n}"), cache=cache))
        finally:
            if engine is not None:
                engine.close()
        results[name] = {"mean": ev.mean(rows), "rows": rows}
    lines += ["| system | ROUGE-1 | ROUGE-2 | ROUGE-L | R-1 vs lead-3 | gold recall | chars | "
              "numbers not in source | s/article | n |", "|---|---|---|---|---|---|---|---|---|---|"]
    lines += [_row(k, v["mean"], anchor) for k, v in results.items()]
    return results, lines


def strategies(articles, model: str, args, log) -> tuple[dict, list[str]]:
    """Map-reduce vs refine with a context small enough that every article is split."""
    from slmkit.apps.summarize import evaluate as ev
    from slmkit.apps.summarize.pipeline import SummaryOptions

    out, lines = {}, ["| strategy | ROUGE-1 | ROUGE-2 | ROUGE-L | gold recall | chars | "
                      "numbers not in source | s/article | model calls |", "|---|---|---|---|---|---|---|---|---|"]
    engine = _load(model, args.threads, args.ctx)
    try:
        for strategy in ("map-reduce", "refine"):
            opts = SummaryOptions(style="bullets", lang=args.set, max_words=args.max_words,
                                  strategy=strategy, context=args.split_ctx)
            calls = []

            def system(a, opts=opts, calls=calls):
                r = ev.summarize(ev.from_text(a.name, a.text), engine, opts)
                calls.append(r["usage"]["calls"])
                return r

            rows = list(ev.run_system(articles, system,
                                      lambda i, n, s=strategy: log(f"  {s}: {i}/{n}")))
            m = ev.mean(rows)
            out[strategy] = {"mean": m, "calls": sum(calls) / max(1, len(calls)), "rows": rows}
            lines.append(f"| {strategy} | {m['rouge1']:.3f} | {m['rouge2']:.3f} | "
                         f"{m['rougeL']:.3f} | {m['gold_recall']:.2f} | {m['chars']:.0f} | "
                         f"{m['unsupported_numbers']:.2f} | {m['seconds']:.2f} | "
                         f"{out[strategy]['calls']:.1f} |")
    finally:
        engine.close()
    return out, lines


def resummarize(articles, model: str, args) -> tuple[dict, list[str]]:
    """One long document (articles joined), summarized, one sentence of its last article
    edited, summarized again with the same piece cache."""
    from slmkit.apps.documents import from_text
    from slmkit.apps.summarize.pipeline import PieceCache, SummaryOptions, summarize

    text = "\n\n".join(a.text for a in articles)
    last = articles[-1].sentences[-1]
    edited = text.replace(last, last + " 관계자는 추가 조사가 필요하다고 말했다.")
    opts = SummaryOptions(style="bullets", lang=args.set, max_words=args.max_words,
                          strategy="map-reduce", context=args.split_ctx)
    engine = _load(model, args.threads, args.ctx)
    try:
        cache = PieceCache()
        first = summarize(from_text("long", text), engine, opts, cache=cache)
        again = summarize(from_text("long", edited), engine, opts, cache=cache)
        cold = summarize(from_text("long", edited), engine, opts)
    finally:
        engine.close()
    out = {"first_seconds": first["seconds"], "edited_seconds": again["seconds"],
           "edited_cold_seconds": cold["seconds"], "pieces": first["split"]["pieces"],
           "calls_first": first["usage"]["calls"], "calls_edited": again["usage"]["calls"],
           "cache_hits": cache.hits}
    lines = ["| run | seconds | model calls |", "|---|---|---|",
             f"| first summary ({out['pieces']} pieces) | {out['first_seconds']:.1f} | "
             f"{out['calls_first']} |",
             f"| edited, no cache | {out['edited_cold_seconds']:.1f} | "
             f"{cold['usage']['calls']} |",
             f"| edited, piece cache | {out['edited_seconds']:.1f} | {out['calls_edited']} |",
             f"\nre-summarizing the edited document: "
             f"{out['edited_cold_seconds'] / max(out['edited_seconds'], 1e-6):.1f}× faster "
             "with the cache"]
    return out, lines


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--set", choices=("ko", "en"), default="ko",
                    help="ko: the Korean news set; en: 20 ACLSum test papers (English)")
    ap.add_argument("--data", default=str(DATA), help="the ko set's folder")
    ap.add_argument("--cached-only", action="store_true",
                    help="run no model: report the articles every model has cached")
    ap.add_argument("--cache-dir", default=str(ROWS),
                    help="per-article rows, reused on a rerun (resume after an interruption)")
    ap.add_argument("--models", default="smollm2-135m-instruct,qwen2.5-coder-0.5b-instruct")
    ap.add_argument("--limit", type=int, default=None, help="first N articles only")
    ap.add_argument("--threads", type=int, default=1,
                    help="llama.cpp threads (1: on a shared machine 2 threads stall)")
    ap.add_argument("--ctx", type=int, default=4096)
    ap.add_argument("--max-words", type=int, default=60)
    ap.add_argument("--strategies", default="", metavar="MODEL",
                    help="also compare map-reduce and refine with MODEL at --split-ctx")
    ap.add_argument("--split-ctx", type=int, default=1536)
    ap.add_argument("--long-limit", type=int, default=3,
                    help="articles for the strategy and re-summarize runs (slow: many calls)")
    ap.add_argument("--resummarize", default="", metavar="MODEL",
                    help="also time re-summarizing an edited long document with MODEL")
    args = ap.parse_args()
    from slmkit.apps.summarize import evaluate as ev

    articles = ev.load_named(args.set, args.data, args.limit)
    load0 = os.getloadavg()[0]
    t0 = time.time()

    def log(msg: str) -> None:
        print(f"[{time.time() - t0:6.0f}s] {msg}", file=sys.stderr, flush=True)

    models = [m for m in args.models.split(",") if m]
    if args.cached_only:
        articles = cached_articles(articles, models, args)
    name = (f"summarize-{args.set}-" + ("-".join(m.split("-")[0] for m in models)
                                        or "baselines") + f"-n{len(articles)}")
    payload = {"machine": machine(), "load_avg_start": load0, "articles": len(articles),
               "args": vars(args)}
    what = {"ko": f"Korean news articles, {Path(args.data).name}",
            "en": "English papers, ACLSum test split"}[args.set]
    md = [f"# Summarization benchmark ({len(articles)} {what})\n",
          f"Busy machine: load average {load0:.1f} at start on "
          f"{payload['machine']['logical_cores']} cores; timings are context only.\n"]
    payload["quality"], lines = quality(articles, models, args, log)
    against = {"ko": "the gold extract", "en": "the human-written summaries"}[args.set]
    md += [f"## Quality against {against}\n", *lines, ""]
    save(name, payload, "\n".join(md) + "\n")  # kept if a later section fails
    if args.strategies:
        payload["strategies"], lines = strategies(articles[:args.long_limit], args.strategies,
                                                  args, log)
        md += [f"## Long inputs: map-reduce vs refine ({args.strategies}, context "
               f"{args.split_ctx} tokens)\n", *lines, ""]
        save(name, payload, "\n".join(md) + "\n")
    if args.resummarize:
        payload["resummarize"], lines = resummarize(articles[:args.long_limit],
                                                    args.resummarize, args)
        md += [f"## Re-summarizing an edited document ({args.resummarize})\n", *lines, ""]
    payload["load_avg_end"] = os.getloadavg()[0]
    md.append(f"Load average at the end: {payload['load_avg_end']:.1f}.")
    text = "\n".join(md) + "\n"
    print(text)
    print(f"saved {save(name, payload, text)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
