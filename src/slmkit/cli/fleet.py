"""`slm fleet serve|status|token`: the collector of device heartbeats and its table."""

from __future__ import annotations

from slmkit.cli.args import Opt, options


def configure(p) -> None:
    p.add_argument("action", choices=["serve", "status", "token"])
    p.add_argument("device", nargs="?", metavar="DEVICE_ID", help="token: the device's id")
    options(p, db=Opt(None, "SQLite file (default: $SLM_HOME/fleet.db)"),
            host=Opt("127.0.0.1", "serve: address to bind"),
            port=Opt(8700, "serve: port (default 8700)", type=int),
            output=Opt(None, "token: also write it here (0600)", "FILE", short="-o"),
            silent_after=Opt(300.0, "status: a device is silent after this long without a "
                                    "heartbeat", "S"),
            mqtt=Opt(None, "serve: also take heartbeats from this MQTT broker and topic "
                           "(mqtts:// for TLS)", "mqtt://HOST:PORT/TOPIC"),
            mqtt_ca=Opt(None, "serve: CA certificate of an mqtts:// broker", "FILE"),
            json=Opt(False, "machine-readable output"))


def run(args) -> int:
    from slmkit.edge.fleet import FleetDB
    from slmkit.settings import get_settings

    db = FleetDB(args.db or get_settings().home / "fleet.db")
    if args.action == "token":
        return _token(db, args)
    if args.action == "status":
        return _status(db, args)
    import uvicorn

    from slmkit.edge.fleet import create_app

    if args.mqtt:
        from slmkit.edge.mqtt import collect

        print(f"fleet collector {collect(db, args.mqtt, args.mqtt_ca)}", flush=True)
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
    from slmkit.cli.output import print_json, stdout_console
    from slmkit.edge.fleet import status_table

    rows = db.status(args.silent_after)
    if args.json:
        return print_json(rows)
    stdout_console(wide=True).print(status_table(rows))
    return 0
