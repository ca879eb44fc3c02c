"""`slm keys generate KEYFILE` / `slm keys show KEYFILE`: Ed25519 signing keys."""

from __future__ import annotations

import argparse

from slmkit.cli.args import Opt, options


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=["generate", "show"])
    p.add_argument("keyfile", metavar="KEYFILE",
                   help="private key file (its public key is KEYFILE.pub)")
    options(p, force=Opt(False, "generate: replace an existing key"),
            json=Opt(False, "machine-readable output"))


def run(args: argparse.Namespace) -> int:
    from slmkit.cli.output import print_json
    from slmkit.edge import keys

    if args.action == "generate":
        keys.generate(args.keyfile, force=args.force)
    public_file = keys.public_path(args.keyfile)
    public = keys.load_public(public_file if public_file.exists() else args.keyfile)
    info = {"key_id": keys.key_id(public), "private": str(args.keyfile),
            "public": str(public_file), "public_pem": keys.public_pem(public).decode()}
    if args.json:
        return print_json(info)
    verb = "generated" if args.action == "generate" else "key"
    print(f"{verb} {info['key_id']}\n  private {info['private']} (keep it secret)\n"
          f"  public  {info['public']} (give this to devices: --key)")
    return 0
