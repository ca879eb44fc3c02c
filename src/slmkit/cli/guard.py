"""`slm guard scan|mask|unmask [FILE|-]`: find, pseudonymize and restore personal data and
secrets in text (docs/guard-and-route.md)."""

from __future__ import annotations

import argparse
import sys

from slmkit.cli.args import Opt, actions, config_from, config_options, json_option, options
from slmkit.cli.output import print_json


def configure(p: argparse.ArgumentParser) -> None:
    from slmkit.guard.textio import GuardSpec

    sub = actions(p)
    scan = sub.add_parser("scan", help="list what the guard finds (types, places; no values)")
    options(scan, show_values=Opt(False, "print the values found too (they stay here)"),
            check=Opt(False, "exit with status 3 when anything is found (for CI and scripts)"))
    mask = sub.add_parser("mask", help="replace what is found with placeholders like <EMAIL_1>")
    options(mask, audit=Opt(None, "append what was masked (types, offsets, keyed hashes) as "
                                  "JSON lines", "FILE"),
            vault=Opt(None, "vault to reuse and update (placeholders stay consistent across "
                            "calls)", "FILE"))
    unmask = sub.add_parser("unmask", help="put the values from a vault back (streams)")
    options(unmask, vault=Opt(None, "vault written by mask", "FILE", required=True))
    for q in (scan, mask, unmask):
        q.add_argument("input", nargs="?", default="-", metavar="FILE|-",
                       help="text to read (default: standard input)")
        json_option(q)
    for q in (scan, mask):
        config_options(q, GuardSpec)


def run(args: argparse.Namespace) -> int:
    return {"scan": run_scan, "mask": run_mask, "unmask": run_unmask}[args.action](args)


def _guard(args: argparse.Namespace, audit_path: str | None = None):
    from slmkit.guard.textio import GuardSpec

    return config_from(args, GuardSpec).build(audit_path)


def run_scan(args: argparse.Namespace) -> int:
    """Print findings; with ``--check`` exit status 3 when something was found."""
    from slmkit.cli.output import show, table
    from slmkit.guard.textio import read_text, scan_rows, scan_table

    rows = scan_rows(_guard(args), read_text(args.input), show_values=args.show_values)
    if args.json:
        print_json({"findings": rows, "count": len(rows)})
    elif not rows:
        show("[dim]nothing found[/]")
    else:
        header, cells = scan_table(rows, args.show_values)
        show(table(*header, box=None, rows=cells))
    return 3 if rows and args.check else 0


def run_mask(args: argparse.Namespace) -> int:
    """Mask the input; the vault (if given) is loaded first and saved after."""
    from slmkit.guard.textio import mask_text, read_text

    protected = mask_text(_guard(args, args.audit), read_text(args.input), args.vault,
                          where=args.input)
    if args.json:
        print_json({"text": protected.text, "findings": [f.to_dict() for f in protected.findings],
                    "keep_local": list(protected.keep_local), "vault": args.vault})
    else:
        sys.stdout.write(protected.text)
        sys.stdout.flush()
    if protected.keep_local:
        sys.stderr.write(f"note: policy keeps {', '.join(protected.keep_local)} local; "
                         "do not send this text off-site\n")
    return 0


def run_unmask(args: argparse.Namespace) -> int:
    """Restore values from the vault; reads and writes in pieces, so it works on a pipe."""
    from slmkit.guard import Vault
    from slmkit.guard.textio import read_text, unmask_path

    vault = Vault.load(args.vault)
    if args.json:
        return print_json({"text": vault.unmask(read_text(args.input))})

    def write(text: str) -> None:  # a line at a time from a pipe: answers show as they stream
        sys.stdout.write(text)
        sys.stdout.flush()

    unmask_path(vault, args.input, write)
    return 0
