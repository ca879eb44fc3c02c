"""`slm summarize FILE|DIR|- ...`: summaries of documents and mail, offline; and
`slm summarize eval`: scores on a set with gold extractive summaries. Maps arguments to
``slmkit.apps.summarize`` and prints; the work is done there."""

from __future__ import annotations

import sys

DEFAULT_EVAL_DATA = "../shared/data/ko-news-sum"


def configure(p) -> None:
    from slmkit.cli.common import add_model_args
    from slmkit.cli.output import add_json_flag

    p.add_argument("inputs", nargs="+", metavar="FILE|DIR|-",
                   help="files, folders (read recursively) or - for stdin; `eval` evaluates")
    p.add_argument("--style", choices=["bullets", "paragraph", "actions"], default="bullets")
    p.add_argument("--lang", choices=["auto", "ko", "en"], default="auto")
    p.add_argument("--max-words", type=int, default=120, metavar="N")
    p.add_argument("--strategy", choices=["auto", "map-reduce", "refine"], default="auto",
                   help="for documents longer than the context (auto: the measured best)")
    p.add_argument("--model", default=None, help="default: the default model")
    ev = p.add_argument_group("eval")
    ev.add_argument("--data", default=DEFAULT_EVAL_DATA, metavar="DIR",
                    help=f"articles with gold extracts (default {DEFAULT_EVAL_DATA})")
    ev.add_argument("--limit", type=int, default=None, metavar="N", help="first N articles")
    add_model_args(p)
    add_json_flag(p)


def run(args) -> int:
    if args.inputs[0] == "eval" and len(args.inputs) == 1:
        return _eval(args)
    from slmkit.apps.documents import from_text, iter_documents
    from slmkit.apps.summarize import SummaryOptions, summarize
    from slmkit.cli.common import run_on_documents

    opts = SummaryOptions(style=args.style, lang=args.lang, max_words=args.max_words,
                          strategy=args.strategy)
    opts.validate()
    items = []
    for name in args.inputs:
        if name == "-":
            items.append((name, _stdin(from_text)))
        else:
            items += list(iter_documents([name]))
    return run_on_documents(args, items, lambda engine, doc: summarize(doc, engine, opts), _print)


def _stdin(from_text):
    from slmkit.apps.documents import DocumentError

    try:
        return [from_text("stdin", sys.stdin.read())]
    except DocumentError as err:
        return err


def _print(r: dict) -> None:
    split = r["split"]
    how = split["strategy"] if split["pieces"] == 1 else (
        f"{split['strategy']} over {split['pieces']} pieces by {', '.join(split['levels'])}"
        + (" (a sentence was cut)" if split.get("cut_in_sentence") else ""))
    print(f"== {r['document']} ({r['language']}, {how}) ==\n{r['summary']}\n")
    if r["action_items"]:
        print("Action items:")
        for a in r["action_items"]:
            who = ", ".join(f"{k}: {a[k]}" for k in ("owner", "due") if a[k])
            print(f"  - {a['task']}" + (f"  [{who}]" if who else "")
                  + f"  (line {a['location']['line']})")
    if r["key_facts"]:
        print("Key facts:")
        for f in r["key_facts"]:
            print(f"  - {f['fact']}  <- line {f['location']['line']}: \"{f['source']}\"")
    for f in r["flags"]:
        print(f"  ! {f['kind']}: {f['text']} ({f['note']})")
    if r["attachments"]:
        print("Attachments: " + ", ".join(f"{a['name']} ({a['type']}, {a['bytes']} B)"
                                          for a in r["attachments"]))
    print()


def _eval(args) -> int:
    from slmkit.apps.summarize import evaluate as ev
    from slmkit.apps.summarize.pipeline import SummaryOptions
    from slmkit.cli.common import open_engine
    from slmkit.cli.output import Progress, print_json

    articles = ev.load_set(args.data, args.limit)
    systems = {"lead3": ev.baseline("lead3"), "textrank": ev.baseline("textrank")}
    loaded = open_engine(args.model, args)
    opts = SummaryOptions(style="bullets", lang=args.lang if args.lang != "auto" else "ko",
                          max_words=min(args.max_words, 80), strategy=args.strategy)
    systems[loaded.name] = ev.model_system(loaded.engine, opts)
    means = {}
    with Progress(enabled=not args.json and sys.stderr.isatty()) as bar:
        for name, system in systems.items():
            rows = list(ev.run_system(articles, system, lambda i, n, s=name: bar(s, i, n)))
            means[name] = ev.mean(rows)
    loaded.engine.close()
    if args.json:
        return print_json({"data": args.data, "systems": means})
    print(f"{len(articles)} articles from {args.data} (ROUGE F over Kiwi morphemes)")
    print(f"{'system':32} {'R-1':>6} {'R-2':>6} {'R-L':>6} {'gold rec':>8} {'chars':>6} "
          f"{'bad num':>7} {'s/doc':>6}")
    for name, m in means.items():
        print(f"{name:32} {m['rouge1']:6.3f} {m['rouge2']:6.3f} {m['rougeL']:6.3f} "
              f"{m['gold_recall']:8.2f} {m['chars']:6.0f} {m['unsupported_numbers']:7.2f} "
              f"{m['seconds']:6.2f}")
    return 0
