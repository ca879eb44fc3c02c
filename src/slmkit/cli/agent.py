"""`slm agent --repo DIR|URL --key PUB`: keep this device on its channel's bundle.

Polls the repository, downloads (resumable), verifies, checks the fit, installs into the
free slot, swaps `current`, runs the bundle's golden prompts on a probation server, then
commits or rolls back. See docs/edge.md.
"""

from __future__ import annotations

import argparse


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--repo", required=True, help="update repository: a directory or http(s) URL")
    p.add_argument("--key", required=True, metavar="PUB", help="trusted public key (.pub)")
    p.add_argument("--channel", default="stable", help="channel to follow (default stable)")
    p.add_argument("--device-dir", help="slots and state (default: $SLM_HOME/edge)")
    p.add_argument("--device-id", help="this device's id (default: made once, kept in "
                                       "device-dir/device.json)")
    p.add_argument("--once", action="store_true", help="poll once and exit")
    p.add_argument("--interval", type=float, default=60.0, metavar="S",
                   help="seconds between polls (default 60)")
    p.add_argument("--ram-limit", type=float, metavar="MB",
                   help="RAM a bundle may need (default: what is available)")
    p.add_argument("--bandwidth", type=float, metavar="KB/S", help="download speed limit")
    p.add_argument("--serve-port", type=int, metavar="PORT",
                   help="also host `slm serve` on the current slot at this port")
    p.add_argument("--fleet", metavar="URL", help="send heartbeats to this fleet collector")
    p.add_argument("--token-file", metavar="FILE", help="this device's fleet token")
    p.add_argument("--status", action="store_true", help="print the device's state and exit")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--crash-at", help=argparse.SUPPRESS)  # fault-injection tests only


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from slmkit.cli.output import print_json
    from slmkit.edge.agent import Agent, AgentConfig
    from slmkit.edge.runner import Heartbeat
    from slmkit.edge.runner import run as run_agent
    from slmkit.settings import get_settings

    config = AgentConfig(
        repo=args.repo, public_key=args.key,
        device_dir=Path(args.device_dir or get_settings().home / "edge"),
        channel=args.channel, device_id=args.device_id,
        ram_limit=int(args.ram_limit * 2**20) if args.ram_limit else None,
        bandwidth=args.bandwidth * 1024 if args.bandwidth else None, crash_at=args.crash_at)
    agent = Agent(config)
    if args.status:
        return print_json(agent.status())
    heartbeat = None
    if args.fleet:
        if not args.token_file:
            raise ValueError("--fleet needs --token-file (make one with `slm fleet token`)")
        heartbeat = Heartbeat(args.fleet, Path(args.token_file).read_text().strip())

    def report(outcome) -> None:
        if args.json:
            print_json(vars(outcome))
        else:
            reason = f": {outcome.reason}" if outcome.reason else ""
            print(f"{outcome.action} {outcome.version or ''}{reason}".strip(), flush=True)

    outcome = run_agent(agent, interval=args.interval, once=args.once, heartbeat=heartbeat,
                        serve_port=args.serve_port, report=report)
    return 1 if args.once and outcome.action in ("refused", "error") else 0
