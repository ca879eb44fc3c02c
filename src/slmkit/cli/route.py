"""`slm route report`: what the router did — where requests were answered and why, tokens,
local compute, remote cost and savings against sending everything to the remote model.

    slm route report [--ledger FILE] [--days N] [--json] [--chart costs.png]
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


def run(args: argparse.Namespace) -> int:
    return run_report(args)


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

    con = stdout_console()
    con.print(f"[bold]route report[/] · {path} · {s['requests']} requests", highlight=False)
    table = Table(box=None, show_header=False)
    table.add_column(style="dim")
    table.add_column()
    routes = ", ".join(f"{k} {v}" for k, v in s["routes"].items()) or "-"
    t = s["tokens"]
    savings = f"${s['savings_usd']:.4f}"
    if s["savings_share"] is not None:
        savings += f" ({s['savings_share']:.0%} of all-remote)"
    for label, value in (
        ("routes", routes), ("escalated", f"{s['escalated_share']:.1%}"),
        ("reasons", ", ".join(f"{k} {v}" for k, v in s["reasons"].items()) or "-"),
        ("outcomes", ", ".join(f"{k} {v}" for k, v in s["outcomes"].items()) or "-"),
        ("local tokens", f"{t['local_prompt']} prompt + {t['local_completion']} completion"),
        ("local compute", f"{s['local_seconds']:.1f} s"),
        ("remote tokens", f"{t['remote_prompt']} prompt + {t['remote_completion']} completion"),
        ("remote cost", f"${s['remote_cost_usd']:.4f}"),
        ("all-remote cost", f"${s['all_remote_cost_usd']:.4f}"), ("savings", savings),
        ("values masked", str(s["masked_values"])),
        ("router overhead", f"p50 {s['router_overhead_ms']['p50']} ms, "
                            f"p95 {s['router_overhead_ms']['p95']} ms"),
    ):
        table.add_row(label, value)
    con.print(table)
    if s.get("chart"):
        con.print(f"chart: {s['chart']}")
    elif s.get("chart") is None and "chart" in s:
        con.print("[dim]no chart: matplotlib is not installed (pip install 'slmkit[eval]')[/]")
