"""`slm route report|train|eval`: the router's ledger, its difficulty model, its quality
(docs/guard-and-route.md); the work is in slmkit.route."""

from __future__ import annotations

import argparse

from slmkit.cli.args import Opt, actions, json_option, loading, options


def configure(p: argparse.ArgumentParser) -> None:
    from slmkit.cli.args import config_options
    from slmkit.route.eval_request import RouteEval, RouteTrain

    sub = actions(p)
    rep = sub.add_parser("report",
                         help="requests, routes, reasons, cost and savings from the ledger")
    options(rep, ledger=Opt(None, "the ledger file (default: $SLM_HOME/route/ledger.sqlite)",
                            "FILE"),
            days=Opt(None, "only the last N days (default: everything)", "N", float),
            chart=Opt(None, "also draw requests per day and cumulative cost (needs matplotlib)",
                      "PNG"))
    tr = sub.add_parser("train", help="fit the prompt router on logged outcomes")
    config_options(tr, RouteTrain)
    ev = sub.add_parser("eval", help="APGR / CPT of routers on a labelled multiple-choice set")
    config_options(ev, RouteEval)
    loading(ev, ctx=2048, title=None)
    for q in (rep, tr, ev):
        json_option(q)


def run(args: argparse.Namespace) -> int:
    return {"report": run_report, "train": run_train, "eval": run_eval}[args.action](args)


def run_train(args: argparse.Namespace) -> int:
    from slmkit.cli.args import config_from
    from slmkit.cli.output import emit
    from slmkit.route.eval_request import RouteTrain
    from slmkit.route.present import train_text

    r = config_from(args, RouteTrain).run()
    return emit(args, r, train_text(r))


def run_eval(args: argparse.Namespace) -> int:
    from slmkit.cli.args import config_from
    from slmkit.cli.common import open_engine
    from slmkit.cli.output import emit, progress
    from slmkit.route.eval_request import RouteEval
    from slmkit.route.present import print_eval

    request = config_from(args, RouteEval)
    dataset = request.choice_set()
    with open_engine(args.weak, args) as weak, progress(args) as bars:
        report = request.run(weak.engine, weak.name, dataset, progress=bars)
    return emit(args, report, lambda con: print_eval(con, report))


def run_report(args: argparse.Namespace) -> int:
    """Summarize the ledger as a table (or JSON), optionally with a PNG chart."""
    from slmkit.cli.output import emit
    from slmkit.route.present import print_ledger
    from slmkit.route.report import ledger_report

    s, path = ledger_report(args.ledger, days=args.days, chart_path=args.chart)
    return emit(args, s, lambda con: print_ledger(con, s, path))
