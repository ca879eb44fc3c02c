"""`slm list`, `slm show`, `slm rm`, `slm verify`: look after the local model store."""

from __future__ import annotations

import argparse

from slmkit.cli.args import Opt, json_option, options
from slmkit.cli.common import progress_console
from slmkit.cli.output import emit, human_size, print_json, stdout_console

MULTI_VERB = True


def configure(parser: argparse.ArgumentParser, verb: str) -> None:
    if verb in ("show", "rm", "verify"):
        parser.add_argument("model", metavar="NAME|PATH" if verb == "show" else "NAME",
                            help="a stored model name" + (" or a .gguf file" * (verb == "show")))
    if verb == "show":
        options(parser, template=Opt(False, "print the whole chat template"),
                metadata=Opt(False, "print every GGUF metadata key (long arrays summarized)"))
    json_option(parser)
    parser.set_defaults(_verb=verb)


def run(args: argparse.Namespace) -> int:
    return {"list": list_models, "show": show, "rm": remove, "verify": verify}[args._verb](args)


def _store():
    from slmkit.models.store import Store

    return Store()


def list_models(args: argparse.Namespace) -> int:
    """Print every stored model."""
    from slmkit.models.info import list_rows, list_table

    rows = list_rows(_store())
    if args.json:
        return print_json(rows)
    con = stdout_console(wide=True)
    if not rows:
        con.print("no models in the store yet; try `slm pull smollm2-135m-instruct`")
        return 0
    con.print(list_table(rows))
    return 0


def show(args: argparse.Namespace) -> int:
    """Print a model's architecture, size, quantization, template, licence, digest."""
    from slmkit.models.gguf_file import display_metadata
    from slmkit.models.info import describe, show_text

    facts, info = describe(_store(), args.model)
    if args.metadata and info is not None:
        facts["metadata"] = display_metadata(info.metadata)
    if args.json:
        return print_json(facts)
    con = stdout_console(wide=True)
    con.print(f"[bold]{facts['name']}[/]", highlight=False)
    for line in show_text(facts, full_template=args.template):
        con.print(line, highlight=False, markup=False)
    return 0


def remove(args: argparse.Namespace) -> int:
    """Remove a model; its file goes when no other name uses it."""
    store = _store()
    name = store.manifest(args.model)["name"]
    freed = store.remove(name)
    note = f"freed {human_size(freed)}" if freed else "file kept: another name uses it"
    return emit(args, {"removed": name, "freed_bytes": freed}, f"removed {name} ({note})")


def verify(args: argparse.Namespace) -> int:
    """Re-hash a stored model; a mismatch exits 1 with the expected and actual digests."""
    ref = _store().verify(args.model, progress=progress_console(args))
    return emit(args, {"name": ref.name, "ok": True, "sha256": ref.sha256, "path": ref.path,
                       "size_bytes": ref.size_bytes}, f"{ref.name}: ok (sha256 {ref.sha256})")
