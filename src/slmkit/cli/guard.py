"""`slm guard scan|mask|unmask [FILE|-]`: find, pseudonymize and restore personal data and
secrets in text, e.g. to scrub logs before they leave the site.

    slm guard scan app.log --json
    slm guard mask ticket.txt --vault ticket.vault > ticket.masked
    llm-cli < ticket.masked | slm guard unmask --vault ticket.vault
"""

from __future__ import annotations

import argparse
import sys

from slmkit.cli.output import add_json_flag, print_json

CHUNK = 4096


def configure(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    scan = sub.add_parser("scan", help="list what the guard finds (types, places; no values)")
    scan.add_argument("--show-values", action="store_true",
                      help="print the values found too (they stay on this machine)")
    scan.add_argument("--check", action="store_true",
                      help="exit with status 3 when anything is found (for CI and scripts)")
    mask = sub.add_parser("mask", help="replace what is found with placeholders like <EMAIL_1>")
    mask.add_argument("--audit", metavar="FILE",
                      help="append what was masked (types, offsets, keyed hashes) as JSON lines")
    unmask = sub.add_parser("unmask", help="put the values from a vault back (streams)")
    for q in (scan, mask, unmask):
        q.add_argument("input", nargs="?", default="-", metavar="FILE|-",
                       help="text to read (default: standard input)")
        add_json_flag(q)
    for q in (scan, mask):
        q.add_argument("--policy", default="", metavar="SPEC",
                       help="actions per type, e.g. KR_RRN=block,PERSON=keep_local,"
                            "IP_ADDRESS=allow")
        q.add_argument("--entities", default="", metavar="TYPES",
                       help="comma-separated types to look for (default: all)")
        q.add_argument("--no-ner", action="store_true",
                       help="do not use Presidio/spaCy NER for names even when installed")
    mask.add_argument("--vault", metavar="FILE",
                      help="vault to reuse and update (placeholders stay consistent across calls)")
    unmask.add_argument("--vault", metavar="FILE", required=True, help="vault written by mask")


def run(args: argparse.Namespace) -> int:
    return {"scan": run_scan, "mask": run_mask, "unmask": run_unmask}[args.action](args)


def _read(path: str) -> str:
    if path == "-":
        return sys.stdin.read()
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read()


def _guard(args: argparse.Namespace, audit_path: str | None = None):
    from slmkit.guard.textio import build_guard

    return build_guard(args.policy, args.entities, ner=not args.no_ner, audit_path=audit_path)


def run_scan(args: argparse.Namespace) -> int:
    """Print findings; with ``--check`` exit status 3 when something was found."""
    from slmkit.guard.textio import scan_rows

    rows = scan_rows(_guard(args), _read(args.input), show_values=args.show_values)
    if args.json:
        print_json({"findings": rows, "count": len(rows)})
    else:
        _print_table(rows, args.show_values)
    return 3 if rows and args.check else 0


def _print_table(rows: list[dict], show_values: bool) -> None:
    from rich.table import Table

    from slmkit.cli.output import stdout_console

    table = Table(box=None)
    columns = ("line:col", "type", "chars", "action", "recognizer")
    for col in columns + (("value",) if show_values else ()):
        table.add_column(col)
    for r in rows:
        table.add_row(f"{r['line']}:{r['column']}", r["entity"], str(r["end"] - r["start"]),
                      r["action"], r["recognizer"], *((r["value"],) if show_values else ()))
    con = stdout_console()
    con.print(table if rows else "[dim]nothing found[/]")


def run_mask(args: argparse.Namespace) -> int:
    """Mask the input; the vault (if given) is loaded first and saved after."""
    import os

    from slmkit.guard import Vault

    text = _read(args.input)
    vault = Vault.load(args.vault) if args.vault and os.path.exists(args.vault) else Vault()
    protected = _guard(args, args.audit).protect(text, vault, where=args.input)
    if args.vault:
        vault.save(args.vault)
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

    vault = Vault.load(args.vault)
    if args.input != "-":
        with open(args.input, encoding="utf-8") as source:
            return _unmask_from(source, vault, args.json, lambda: source.read(CHUNK))
    return _unmask_from(sys.stdin, vault, args.json, sys.stdin.readline)


def _unmask_from(source, vault, as_json: bool, read) -> int:
    from slmkit.guard.textio import unmask_stream

    if as_json:
        return print_json({"text": vault.unmask(source.read())})

    def write(text: str) -> None:  # a line at a time from a pipe: answers show as they stream
        sys.stdout.write(text)
        sys.stdout.flush()

    unmask_stream(vault, read, write)
    return 0
