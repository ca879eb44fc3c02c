"""`slm publish FILE --repo DIR --channel stable --rollout 10%`: add a bundle to an update
repository and point a channel at it (the index is re-signed with --sign)."""

from __future__ import annotations

import argparse

from slmkit.cli.args import Opt, options


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("bundle", metavar="FILE", help="a bundle made by `slm bundle`")
    options(p, repo=Opt(None, "the repository directory", "DIR", required=True),
            sign=Opt(None, "private key (signs the index)", "KEY", required=True),
            channel="stable",
            rollout=Opt("100%", "share of devices, e.g. 10%% (default 100%%)"),
            expires_days=Opt(7.0, "devices refuse the index after this long (default 7)"),
            json=Opt(False, "machine-readable output"))


def run(args: argparse.Namespace) -> int:
    from slmkit.cli.output import print_json
    from slmkit.edge.repo import publish

    rollout = float(args.rollout.rstrip("%"))
    index = publish(args.bundle, args.repo, args.sign, channel=args.channel, rollout=rollout,
                    expires_days=args.expires_days)
    if args.json:
        return print_json(index)
    entry = index["channels"][args.channel]
    print(f"published {entry['name']} {entry['version']} to {args.channel} at "
          f"{entry['rollout']:g}% (index version {index['version']}, expires {index['expires']})")
    return 0
