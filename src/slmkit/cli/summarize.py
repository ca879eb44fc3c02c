"""`slm summarize FILE|DIR|- ...`: summaries of documents and mail, offline; `slm summarize
eval`: scores on a set with gold extractive summaries (the work is in slmkit.apps.summarize)."""

from __future__ import annotations

from slmkit.cli.args import config_from

DEFAULT_EVAL_DATA = "../shared/data/ko-news-sum"


def configure(p) -> None:
    from slmkit.apps.summarize import SummaryOptions
    from slmkit.cli.args import Opt, config_options, json_option, options, settings_loading

    p.add_argument("inputs", nargs="+", metavar="FILE|DIR|-",
                   help="files, folders (read recursively) or - for stdin; `eval` evaluates")
    config_options(p, SummaryOptions)
    options(p, model=Opt(None, "default: the default model"))
    options(p.add_argument_group("eval"),
            set=Opt("ko", "ko: Korean news (--data); en: 20 ACLSum papers (English)",
                    choices=("ko", "en")),
            data=Opt(DEFAULT_EVAL_DATA, f"articles with gold extracts (default "
                                        f"{DEFAULT_EVAL_DATA})", "DIR"),
            limit=Opt(None, "first N articles", "N", int))
    settings_loading(p)
    json_option(p)


def run(args) -> int:
    from slmkit.apps.documents import iter_documents, read_stdin
    from slmkit.apps.summarize import SummaryOptions, summarize
    from slmkit.apps.summarize.text import summary_text
    from slmkit.cli.common import run_on_documents

    if args.inputs[0] == "eval" and len(args.inputs) == 1:
        return _eval(args, config_from(args, SummaryOptions, style="bullets", max_words=min(
            args.max_words, 80), lang=args.lang if args.lang != "auto" else args.set))
    opts = config_from(args, SummaryOptions)
    opts.validate()
    items = []
    for name in args.inputs:
        items += [(name, read_stdin())] if name == "-" else list(iter_documents([name]))
    return run_on_documents(args, items, lambda engine, doc: summarize(doc, engine, opts),
                            lambda r: print(summary_text(r)))


def _eval(args, opts) -> int:
    from slmkit.apps.summarize.evaluate import evaluation
    from slmkit.cli.common import open_engine
    from slmkit.cli.output import emit, progress

    with open_engine(args.model, args) as loaded, progress(args) as bar:
        result = evaluation(args.set, args.data, args.limit, loaded.engine, loaded.name, opts,
                            bar)
    return emit(args, *result)
