"""`slm list`, `slm show`, `slm rm`, `slm verify`: look after the local model store."""

from __future__ import annotations

import argparse
from typing import Any

from slmkit.cli.common import progress_console
from slmkit.cli.output import (
    add_json_flag,
    format_params,
    human_size,
    print_json,
    stdout_console,
)

MULTI_VERB = True
TEMPLATE_PREVIEW_LINES = 8


def configure(parser: argparse.ArgumentParser, verb: str) -> None:
    if verb in ("show", "rm", "verify"):
        what = "NAME|PATH" if verb == "show" else "NAME"
        parser.add_argument("model", metavar=what, help="a stored model name"
                            + (" or a .gguf file" if verb == "show" else ""))
    if verb == "show":
        parser.add_argument("--template", action="store_true",
                            help="print the whole chat template")
        parser.add_argument("--metadata", action="store_true",
                            help="print every GGUF metadata key (long arrays summarized)")
    add_json_flag(parser)
    parser.set_defaults(_verb=verb)


def run(args: argparse.Namespace) -> int:
    return {"list": list_models, "show": show, "rm": remove, "verify": verify}[args._verb](args)


def _store():
    from slmkit.models.store import Store

    return Store()


def list_models(args: argparse.Namespace) -> int:
    """Print every stored model."""
    from slmkit.models.info import list_rows

    rows = list_rows(_store())
    if args.json:
        return print_json(rows)
    con = stdout_console(wide=True)
    if not rows:
        con.print("no models in the store yet; try `slm pull smollm2-135m-instruct`")
        return 0
    from rich.table import Table

    table = Table(box=None, header_style="bold")
    for col in ("NAME", "SIZE", "QUANT", "PARAMS", "MODIFIED", "SOURCE"):
        table.add_column(col, no_wrap=col != "SOURCE")
    for r in rows:
        table.add_row(r["name"], human_size(r["size_bytes"]), r["quantization"] or "-",
                      format_params(r["parameters"]), (r["modified"] or "-")[:16].replace("T", " "),
                      r["source"] or "-")
    con.print(table)
    return 0


# --- show ------------------------------------------------------------------------------------

def show(args: argparse.Namespace) -> int:
    """Print a model's architecture, size, quantization, template, licence, digest."""
    from slmkit.models.gguf_file import display_metadata
    from slmkit.models.info import describe

    facts, info = describe(_store(), args.model)
    if args.metadata and info is not None:
        facts["metadata"] = display_metadata(info.metadata)
    if args.json:
        return print_json(facts)
    con = stdout_console(wide=True)
    con.print(f"[bold]{facts['name']}[/]", highlight=False)
    for label, value in _show_lines(facts):
        con.print(f"  {label:<16}{value}", highlight=False, markup=False)
    _print_template(con, facts.get("chat_template"), whole=args.template)
    if "metadata" in facts:
        con.print("  metadata")
        for key, value in facts["metadata"].items():
            text = str(value).replace("\n", "\\n")
            con.print(f"    {key} = {text[:200]}", highlight=False, markup=False)
    return 0


def _show_lines(facts: dict[str, Any]) -> list[tuple[str, str]]:
    lines = [
        ("architecture", facts.get("architecture")), ("model name", facts.get("model_name")),
        ("parameters", format_params(facts.get("parameters"))),
        ("quantization", facts.get("quantization")),
        ("context length", facts.get("context_length")),
        ("embedding", facts.get("embedding_length")), ("layers", facts.get("block_count")),
        ("vocabulary", facts.get("vocab_size")), ("licence", facts.get("licence")),
        ("size", human_size(facts.get("size_bytes"))), ("sha256", facts.get("sha256")),
        ("path", facts.get("path")), ("source", facts.get("source")),
    ]
    if facts.get("defaults"):
        lines.append(("defaults", ", ".join(f"{k} {v!r}" if isinstance(v, str) else f"{k} {v}"
                                            for k, v in facts["defaults"].items())))
    if facts.get("korean"):
        lines.append(("korean", facts["korean"]))
    if facts.get("architecture") is None and facts.get("files"):
        lines.insert(0, ("files", str(len(facts["files"]))))
    return [(label, str(v)) for label, v in lines if v not in (None, "", "-")]


def _print_template(con, template: str | None, *, whole: bool) -> None:
    if not template:
        return
    lines = template.splitlines()
    shown = lines if whole else lines[:TEMPLATE_PREVIEW_LINES]
    con.print("  chat template")
    for line in shown:
        con.print(f"    {line}", highlight=False, markup=False)
    if len(shown) < len(lines):
        con.print(f"    … {len(lines) - len(shown)} more lines (--template shows all)",
                  highlight=False, markup=False)


# --- rm, verify ------------------------------------------------------------------------------

def remove(args: argparse.Namespace) -> int:
    """Remove a model; its file goes when no other name uses it."""
    store = _store()
    name = store.manifest(args.model)["name"]
    freed = store.remove(name)
    if args.json:
        print_json({"removed": name, "freed_bytes": freed})
    else:
        note = f"freed {human_size(freed)}" if freed else "file kept: another name uses it"
        stdout_console(wide=True).print(f"removed {name} ({note})", highlight=False)
    return 0


def verify(args: argparse.Namespace) -> int:
    """Re-hash a stored model; a mismatch exits 1 with the expected and actual digests."""
    store = _store()
    ref = store.verify(args.model, progress=progress_console(args))
    if args.json:
        print_json({"name": ref.name, "ok": True, "sha256": ref.sha256, "path": ref.path,
                    "size_bytes": ref.size_bytes})
    else:
        stdout_console(wide=True).print(f"{ref.name}: ok (sha256 {ref.sha256})", highlight=False)
    return 0
