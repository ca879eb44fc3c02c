"""`slm summarize FILE|DIR|- ...`: summaries of documents and mail, offline; and
`slm summarize eval`: scores on a set with gold extractive summaries. Maps arguments to
``slmkit.apps.summarize`` and prints; the work is done there."""

from __future__ import annotations

import sys

from slmkit.cli.args import Opt, json_option, options, settings_loading

DEFAULT_EVAL_DATA = "../shared/data/ko-news-sum"


def configure(p) -> None:
    p.add_argument("inputs", nargs="+", metavar="FILE|DIR|-",
                   help="files, folders (read recursively) or - for stdin; `eval` evaluates")
    options(p, style=("bullets", "paragraph", "actions"), lang=("auto", "ko", "en"),
            max_words=120,
            strategy=Opt("auto", "for documents longer than the context (auto: the measured "
                                 "best)", choices=("auto", "map-reduce", "refine")),
            model=Opt(None, "default: the default model"))
    options(p.add_argument_group("eval"),
            data=Opt(DEFAULT_EVAL_DATA, f"articles with gold extracts (default "
                                        f"{DEFAULT_EVAL_DATA})", "DIR"),
            limit=Opt(None, "first N articles", "N", int))
    settings_loading(p)
    json_option(p)


def run(args) -> int:
    if args.inputs[0] == "eval" and len(args.inputs) == 1:
        return _eval(args)
    from slmkit.apps.documents import iter_documents, read_stdin
    from slmkit.apps.summarize import SummaryOptions, summarize
    from slmkit.apps.summarize.text import summary_text
    from slmkit.cli.common import run_on_documents

    opts = SummaryOptions(style=args.style, lang=args.lang, max_words=args.max_words,
                          strategy=args.strategy)
    opts.validate()
    items = []
    for name in args.inputs:
        items += [(name, read_stdin())] if name == "-" else list(iter_documents([name]))
    return run_on_documents(args, items, lambda engine, doc: summarize(doc, engine, opts),
                            lambda r: print(summary_text(r)))


def _eval(args) -> int:
    from slmkit.apps.summarize import evaluate as ev
    from slmkit.apps.summarize.pipeline import SummaryOptions
    from slmkit.apps.summarize.text import scores_text
    from slmkit.cli.common import open_engine
    from slmkit.cli.output import Progress, print_json

    articles = ev.load_set(args.data, args.limit)
    systems = {"lead3": ev.baseline("lead3"), "textrank": ev.baseline("textrank")}
    opts = SummaryOptions(style="bullets", lang=args.lang if args.lang != "auto" else "ko",
                          max_words=min(args.max_words, 80), strategy=args.strategy)
    means = {}
    with open_engine(args.model, args) as loaded, \
            Progress(enabled=not args.json and sys.stderr.isatty()) as bar:
        systems[loaded.name] = ev.model_system(loaded.engine, opts)
        for name, system in systems.items():
            rows = list(ev.run_system(articles, system, lambda i, n, s=name: bar(s, i, n)))
            means[name] = ev.mean(rows)
    if args.json:
        return print_json({"data": args.data, "systems": means})
    print(scores_text(args.data, len(articles), means))
    return 0
