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
import time

from slmkit.cli.output import add_json_flag, print_json


def configure(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    rep = sub.add_parser("report",
                         help="requests, routes, reasons, cost and savings from the ledger")
    rep.add_argument("--ledger", metavar="FILE",
                     help="the ledger file (default: $SLM_HOME/route/ledger.sqlite)")
    rep.add_argument("--days", type=float, default=None, metavar="N",
                     help="only the last N days (default: everything)")
    rep.add_argument("--chart", metavar="PNG",
                     help="also draw requests per day and cumulative cost (needs matplotlib)")
    add_json_flag(rep)
    tr = sub.add_parser("train", help="fit the prompt-difficulty classifier on logged outcomes")
    tr.add_argument("--data", required=True, metavar="JSONL",
                    help='outcomes, one a line: {"prompt": "...", "hard": true|false} '
                         '(or "local_correct": true|false)')
    tr.add_argument("--output", metavar="FILE",
                    help="where to write the model (default: $SLM_HOME/route/difficulty.npz)")
    tr.add_argument("--dimension", type=int, default=4096, metavar="N",
                    help="hashed feature buckets (default 4096)")
    add_json_flag(tr)
    ev = sub.add_parser("eval", help="APGR / CPT of routers on a labelled multiple-choice set")
    ev.add_argument("--data", default="mmlu", metavar="SET",
                    help="a choice set: catalog name (`slm eval --list-data`), a JSONL file, "
                         "or 'arithmetic' / 'facts' / 'mixed' (built offline, seeded)")
    ev.add_argument("--weak", default=None, metavar="MODEL",
                    help="the local model (default: the catalog default)")
    ev.add_argument("--upstream", required=True, metavar="URL",
                    help="the strong model's OpenAI-compatible base URL")
    ev.add_argument("--upstream-model", required=True, metavar="NAME")
    ev.add_argument("--upstream-key-env", default="SLM_UPSTREAM_KEY", metavar="VAR",
                    help="environment variable holding the upstream's key (if any)")
    ev.add_argument("--limit", type=int, default=None, metavar="N", help="first N items only")
    ev.add_argument("--format", choices=["generate", "chat", "completion"], default="chat",
                    help="generate: the models answer the question freely (no choices shown) "
                         "and are right when the answer matches the correct choice; chat: a "
                         "letter through the chat template (default); completion: a letter "
                         "after an MMLU-style 'Answer:'")
    ev.add_argument("--test-share", type=float, default=0.5, metavar="X",
                    help="held-apart share the numbers are reported on (default 0.5)")
    ev.add_argument("--seed", type=int, default=0)
    ev.add_argument("--target-pgr", type=float, default=0.8, metavar="X",
                    help="calibrate thresholds on the training split for this PGR (0.8)")
    ev.add_argument("--chart", metavar="PNG", help="draw quality vs share escalated")
    ev.add_argument("--outcomes", metavar="JSONL",
                    help="write the training split's outcomes (for `slm route train`)")
    ev.add_argument("--cache", metavar="JSONL",
                    help="reuse and append the models' answers here (resumable runs)")
    ev.add_argument("--difficulty-out", metavar="FILE",
                    help="save the difficulty model fit on the training split")
    ev.add_argument("--ctx", type=int, default=2048, metavar="N")
    ev.add_argument("--threads", type=int, default=0, metavar="N")
    ev.add_argument("--no-pull", action="store_true")
    ev.add_argument("--verbose", action="store_true")
    add_json_flag(ev)


def run(args: argparse.Namespace) -> int:
    return {"report": run_report, "train": run_train, "eval": run_eval}[args.action](args)


def run_train(args: argparse.Namespace) -> int:
    from pathlib import Path

    from slmkit.route.difficulty import read_outcomes, train
    from slmkit.route.ledger import default_path

    prompts, hard = read_outcomes(args.data)
    model = train(prompts, hard, dimension=args.dimension)
    out = Path(args.output) if args.output else default_path().parent / "difficulty.npz"
    model.save(out)
    result = {"model": str(out), "features": model.features, **model.metrics}
    if args.json:
        print_json(result)
    else:
        m = model.metrics
        print(f"trained on {m['n']} outcomes ({m['hard_share']:.0%} hard); held-apart "
              f"AUC {m.get('holdout_auc')}, accuracy {m.get('holdout_accuracy')}\n"
              f"wrote {out}  (use: slm serve --route LOCAL --upstream URL --difficulty {out})")
    return 0


def run_eval(args: argparse.Namespace) -> int:
    import sys

    from slmkit.cli.common import open_engine
    from slmkit.cli.output import Progress
    from slmkit.evaluate import datasets
    from slmkit.evaluate.choice import build_prompt
    from slmkit.models.load import load
    from slmkit.route import evaluate as rev
    from slmkit.route import tasks
    from slmkit.route.difficulty import train

    if args.data in tasks.TASKS:  # built offline, seeded, written next to the datasets
        rows = tasks.TASKS[args.data](args.limit or 200, args.seed)
        path = datasets.data_root() / "route" / f"{args.data}-{len(rows)}-{args.seed}.jsonl"
        tasks.write_jsonl(rows, path)
        ds = datasets.resolve(str(path), kind="choice")
    else:
        ds = datasets.resolve(args.data, kind="choice")
    items = rev.choice_items(datasets.load_choices(ds)[:args.limit], args.format,
                             letter_prompt=lambda c: build_prompt(c, [], "letter"))
    weak = open_engine(args.weak, args)
    strong = load(args.upstream, backend="remote", model=args.upstream_model,
                  api_key_env=args.upstream_key_env, timeout=120.0)
    try:
        with Progress(enabled=not args.json and sys.stderr.isatty()) as progress:
            w = rev.answer_all(weak.engine, items,
                               lambda i, n: progress(f"weak: {weak.name}", i, n),
                               cache=args.cache, model=weak.name)
            s = rev.answer_all(strong, items,
                               lambda i, n: progress(f"strong: {args.upstream_model}", i, n),
                               cache=args.cache, model=args.upstream_model)
    finally:
        weak.engine.close()
        strong.close()
    report = rev.evaluate_routers(items, w, s, test_share=args.test_share, seed=args.seed,
                                  target_pgr=args.target_pgr, train_difficulty=train)
    model = report.pop("difficulty_model", None)
    report.update(data=ds.name, weak=weak.name, strong=args.upstream_model)
    if args.difficulty_out and model is not None:
        report["difficulty_model"] = str(model.save(args.difficulty_out))
    if args.outcomes:
        tasks.write_jsonl(rev.training_outcomes(items, w, s, args.test_share, args.seed),
                          args.outcomes)
    if args.chart:
        report["chart"] = rev.chart(report, args.chart)
    if args.json:
        print_json(report)
    else:
        _print_eval(report)
    return 0


def _print_eval(r: dict) -> None:
    from rich.table import Table

    from slmkit.cli.output import stdout_console

    con = stdout_console()
    con.print(f"[bold]route eval[/] · {r['data']} · held-apart n={r['n_test']} "
              f"(trained on {r['n_train']}) · weak {r['weak']} {r['weak_accuracy']:.1%} · "
              f"strong {r['strong']} {r['strong_accuracy']:.1%}", highlight=False)
    table = Table("router", "APGR", "CPT(50%)", "CPT(80%)", "calibrated: escalated",
                  "accuracy", "PGR", box=None)
    for row in r["routers"]:
        c = row.get("calibrated") or {}
        table.add_row(row["router"], _num(row["apgr"]), _pct(row["cpt50"]), _pct(row["cpt80"]),
                      _pct(c.get("escalated_share")), _pct(c.get("quality")), _num(c.get("pgr")))
    con.print(table)
    if r.get("chart"):
        con.print(f"chart: {r['chart']}")


def _num(x) -> str:
    return "-" if x is None else f"{x:.3f}"


def _pct(x) -> str:
    return "-" if x is None else f"{x:.1%}"


def run_report(args: argparse.Namespace) -> int:
    """Summarize the ledger as a table (or JSON), optionally with a PNG chart."""
    from pathlib import Path

    from slmkit.route.ledger import Ledger, default_path
    from slmkit.route.report import chart, summarize

    path = Path(args.ledger) if args.ledger else default_path()
    if not path.exists():
        raise ValueError(f"no ledger at {path}; the router writes one when it serves requests")
    ledger = Ledger(path)
    since = time.time() - args.days * 86400 if args.days else 0.0
    summary = summarize(ledger.entries(since))
    ledger.close()
    if args.chart:
        summary["chart"] = chart(summary, args.chart)
    if args.json:
        print_json(summary)
    else:
        _print(summary, str(path))
    return 0


def _print(s: dict, path: str) -> None:
    from rich.table import Table

    from slmkit.cli.output import stdout_console
    from slmkit.route.report import summary_lines

    con = stdout_console()
    con.print(f"[bold]route report[/] · {path} · {s['requests']} requests", highlight=False)
    table = Table(box=None, show_header=False)
    table.add_column(style="dim")
    table.add_column()
    for label, value in summary_lines(s):
        table.add_row(label, value)
    con.print(table)
    if s.get("chart"):
        con.print(f"chart: {s['chart']}")
    elif s.get("chart") is None and "chart" in s:
        con.print("[dim]no chart: matplotlib is not installed (pip install 'slmkit[eval]')[/]")
