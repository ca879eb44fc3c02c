"""`slm fleet serve|status|token`: the collector of device heartbeats and its table."""

from __future__ import annotations

import argparse


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=["serve", "status", "token"])
    p.add_argument("device", nargs="?", metavar="DEVICE_ID", help="token: the device's id")
    p.add_argument("--db", default=None, help="SQLite file (default: $SLM_HOME/fleet.db)")
    p.add_argument("--host", default="127.0.0.1", help="serve: address to bind")
    p.add_argument("--port", type=int, default=8700, help="serve: port (default 8700)")
    p.add_argument("-o", "--output", metavar="FILE", help="token: also write it here (0600)")
    p.add_argument("--silent-after", type=float, default=300.0, metavar="S",
                   help="status: a device is silent after this long without a heartbeat")
    p.add_argument("--json", action="store_true", help="machine-readable output")


def run(args: argparse.Namespace) -> int:
    from slmkit.edge.fleet import FleetDB
    from slmkit.settings import get_settings

    db = FleetDB(args.db or get_settings().home / "fleet.db")
    if args.action == "token":
        return _token(db, args)
    if args.action == "status":
        return _status(db, args)
    import uvicorn

    from slmkit.edge.fleet import create_app

    print(f"fleet collector on http://{args.host}:{args.port} (db {db.path})", flush=True)
    uvicorn.run(create_app(db), host=args.host, port=args.port, log_level="warning")
    return 0


def _token(db, args) -> int:
    from slmkit.util.files import atomic_write

    if not args.device:
        raise ValueError("slm fleet token DEVICE_ID")
    token = db.add_device(args.device)
    if args.output:
        atomic_write(args.output, token + "\n", mode=0o600)
    print(token)
    return 0


def _status(db, args) -> int:
    import time

    from slmkit.cli.output import print_json, stdout_console

    rows = db.status(args.silent_after)
    if args.json:
        return print_json(rows)
    from rich.table import Table

    table = Table("device", "version", "previous", "health", "tok/s", "rollbacks",
                  "last rollback", "last seen")
    for r in rows:
        seen = "never" if r["last_seen"] is None else f"{time.time() - r['last_seen']:.0f} s ago"
        table.add_row(r["device_id"], r["version"] or "-", r["previous"] or "-",
                      "[red]silent[/]" if r["silent"] else (r["health"] or "-"),
                      f"{r['tok_s']:.1f}" if r["tok_s"] else "-", str(r["rollbacks"]),
                      r["last_rollback"] or "-", seen)
    stdout_console(wide=True).print(table)
    return 0
