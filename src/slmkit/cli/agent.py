"""`slm agent --repo DIR|URL --key PUB`: keep this device on its channel's bundle.

Polls the repository, downloads (resumable), verifies, checks the fit, installs into the
free slot, swaps `current`, runs the bundle's golden prompts on a probation server, then
commits or rolls back. See docs/edge.md.
"""

from __future__ import annotations

import argparse

from slmkit.cli.args import Opt, options


def configure(p: argparse.ArgumentParser) -> None:
    options(p, repo=Opt(None, "update repository: a directory or http(s) URL", required=True),
            key=Opt(None, "trusted public key (.pub)", "PUB", required=True),
            channel=Opt("stable", "channel to follow (default stable)"),
            device_dir=Opt(None, "slots and state (default: $SLM_HOME/edge)"),
            device_id=Opt(None, "this device's id (default: made once, kept in "
                                "device-dir/device.json)"),
            once=Opt(False, "poll once and exit"),
            interval=Opt(60.0, "seconds between polls (default 60)", "S"),
            ram_limit=Opt(None, "RAM a bundle may need (default: what is available)", "MB",
                          float),
            bandwidth=Opt(None, "download speed limit", "KB/S", float),
            serve_port=Opt(None, "also host `slm serve` on the current slot at this port",
                           "PORT", int),
            fleet=Opt(None, "send heartbeats to this fleet collector", "URL"),
            token_file=Opt(None, "this device's fleet token", "FILE"),
            status=Opt(False, "print the device's state and exit"),
            json=Opt(False, "machine-readable output"),
            crash_at=Opt(None, argparse.SUPPRESS))  # fault-injection tests only


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
