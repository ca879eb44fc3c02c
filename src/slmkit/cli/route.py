"""`slm route report|train|eval`: the router's ledger, its difficulty model, its quality.

    slm route report [--ledger FILE] [--days N] [--json] [--chart costs.png]
    slm route train --data outcomes.jsonl [--output difficulty.npz]
    slm route eval --data mmlu --upstream http://127.0.0.1:8001/v1 --upstream-model qwen…

``report``: where requests were answered and why, tokens, local compute, remote cost and
savings against sending everything to the remote model. ``train``: a prompt-difficulty
classifier from logged outcomes (``{"prompt": …, "hard": true}`` lines). ``eval``: quality
vs share escalated, APGR and CPT on a held-apart split of a labelled multiple-choice set,
weak = a local model, strong = an OpenAI-compatible upstream.
"""

from __future__ import annotations

import argparse

from slmkit.cli.args import Opt, actions, json_option, loading, options


def configure(p: argparse.ArgumentParser) -> None:
    sub = actions(p)
    rep = sub.add_parser("report",
                         help="requests, routes, reasons, cost and savings from the ledger")
    options(rep, ledger=Opt(None, "the ledger file (default: $SLM_HOME/route/ledger.sqlite)",
                            "FILE"),
            days=Opt(None, "only the last N days (default: everything)", "N", float),
            chart=Opt(None, "also draw requests per day and cumulative cost (needs matplotlib)",
                      "PNG"))
    tr = sub.add_parser("train", help="fit the prompt-difficulty classifier on logged outcomes")
    options(tr, data=Opt(None, 'outcomes, one a line: {"prompt": "...", "hard": true|false} '
                               '(or "local_correct": true|false)', "JSONL", required=True),
            output=Opt(None, "where to write the model (default: "
                             "$SLM_HOME/route/difficulty.npz)", "FILE"),
            dimension=Opt(4096, "hashed feature buckets"))
    ev = sub.add_parser("eval", help="APGR / CPT of routers on a labelled multiple-choice set")
    options(ev, data=Opt("mmlu", "a choice set: catalog name (`slm eval --list-data`), a JSONL "
                                 "file, or 'arithmetic' / 'facts' / 'mixed' (built offline, "
                                 "seeded)", "SET"),
            weak=Opt(None, "the local model (default: the catalog default)", "MODEL"),
            upstream=Opt(None, "the strong model's OpenAI-compatible base URL", "URL",
                         required=True),
            upstream_model=Opt(None, metavar="NAME", required=True),
            upstream_key_env=Opt("SLM_UPSTREAM_KEY", "environment variable holding the "
                                                     "upstream's key (if any)", "VAR"),
            limit=Opt(None, "first N items only", type=int),
            format=Opt("chat", "generate: the models answer freely (no choices shown), right "
                               "when the answer matches the correct choice; chat: a letter "
                               "through the chat template; completion: a letter after an "
                               "MMLU-style 'Answer:'", choices=("generate", "chat", "completion")),
            test_share=Opt(0.5, "held-apart share the numbers are reported on", "X"),
            seed=0,
            target_pgr=Opt(0.8, "calibrate thresholds on the training split for this PGR", "X"),
            chart=Opt(None, "draw quality vs share escalated", "PNG"),
            outcomes=Opt(None, "write the training split's outcomes (for `slm route train`)",
                         "JSONL"),
            cache=Opt(None, "reuse and append the models' answers here (resumable runs)",
                      "JSONL"),
            difficulty_out=Opt(None, "save the difficulty model fit on the training split",
                               "FILE"))
    loading(ev, ctx=2048, title=None)
    for q in (rep, tr, ev):
        json_option(q)


def run(args: argparse.Namespace) -> int:
    return {"report": run_report, "train": run_train, "eval": run_eval}[args.action](args)


def run_train(args: argparse.Namespace) -> int:
    from slmkit.cli.output import emit
    from slmkit.route.difficulty import train_file
    from slmkit.route.present import train_text

    r = train_file(args.data, args.output, dimension=args.dimension)
    return emit(args, r, train_text(r))


def run_eval(args: argparse.Namespace) -> int:
    from slmkit.cli.common import open_engine
    from slmkit.cli.output import emit, progress
    from slmkit.models.upstream import Upstream
    from slmkit.route import evaluate as rev
    from slmkit.route.present import print_eval
    from slmkit.route.tasks import choice_set

    ds, items = choice_set(args.data, args.format, limit=args.limit, seed=args.seed)
    strong = Upstream(args.upstream, args.upstream_model, key_env=args.upstream_key_env,
                      timeout=120.0)
    with open_engine(args.weak, args) as weak, strong.open() as remote, progress(args) as bars:
        report = rev.run(items, weak.engine, remote, names=(weak.name, args.upstream_model),
                         progress=bars, cache=args.cache, test_share=args.test_share,
                         seed=args.seed, target_pgr=args.target_pgr,
                         difficulty_out=args.difficulty_out, outcomes=args.outcomes,
                         chart_path=args.chart)
    report["data"] = ds.name
    return emit(args, report, lambda con: print_eval(con, report))


def run_report(args: argparse.Namespace) -> int:
    """Summarize the ledger as a table (or JSON), optionally with a PNG chart."""
    from slmkit.cli.output import emit
    from slmkit.route.present import print_ledger
    from slmkit.route.report import ledger_report

    s, path = ledger_report(args.ledger, days=args.days, chart_path=args.chart)
    return emit(args, s, lambda con: print_ledger(con, s, path))
