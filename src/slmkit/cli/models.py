"""`slm list`, `slm show`, `slm rm`, `slm verify`: look after the local model store."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from slmkit.cli.output import add_json_flag, print_json
from slmkit.util.text import format_bytes

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


# --- formatting ------------------------------------------------------------------------------

human_size = format_bytes  # bytes as people read them: 98.4 MB


def human_params(n: int | None) -> str:
    """Parameter counts as people say them: 135M, 1.5B."""
    if not n:
        return "-"
    if n >= 1e9:
        return f"{n / 1e9:.1f}B"
    return f"{n / 1e6:.0f}M" if n >= 1e6 else f"{n / 1e3:.0f}K"


def stdout_console():
    """Rich console on stdout; piped output is not wrapped or truncated at 80 columns."""
    from slmkit.cli.output import stdout_console as console

    con = console()
    if not con.is_terminal:
        con.width = 240
    return con


def _store():
    from slmkit.models.store import Store

    return Store()


# --- list ------------------------------------------------------------------------------------

def _row(manifest: dict[str, Any]) -> dict[str, Any]:
    gguf = manifest.get("gguf") or {}
    return {
        "name": manifest["name"], "kind": manifest.get("kind"), "size_bytes": manifest["size"],
        "quantization": gguf.get("quantization"), "parameters": gguf.get("parameters"),
        "modified": manifest.get("created"), "source": manifest.get("source"),
        "sha256": manifest["sha256"],
    }


def list_models(args: argparse.Namespace) -> int:
    """Print every stored model."""
    store = _store()
    rows = [_row(store.manifest(ref.name)) for ref in store.list()]
    if args.json:
        print_json(rows)
        return 0
    con = stdout_console()
    if not rows:
        con.print("no models in the store yet; try `slm pull smollm2-135m-instruct`")
        return 0
    from rich.table import Table

    table = Table(box=None, header_style="bold")
    for col in ("NAME", "SIZE", "QUANT", "PARAMS", "MODIFIED", "SOURCE"):
        table.add_column(col, no_wrap=col != "SOURCE")
    for r in rows:
        table.add_row(r["name"], human_size(r["size_bytes"]), r["quantization"] or "-",
                      human_params(r["parameters"]), (r["modified"] or "-")[:16].replace("T", " "),
                      r["source"] or "-")
    con.print(table)
    return 0


# --- show ------------------------------------------------------------------------------------

def describe(model: str) -> tuple[dict[str, Any], Any]:
    """Facts about a stored model or a .gguf path, plus its GGUFInfo (None for directories)."""
    from slmkit.core.errors import ModelNotFoundError
    from slmkit.models.gguf_file import read_gguf
    from slmkit.models.sources import is_source_spec

    path = Path(model).expanduser()
    if is_source_spec(model) and not path.exists():
        raise ModelNotFoundError(model, hint=f"no such file: {path}")
    if path.is_file() and (path.suffix.lower() == ".gguf" or not _store().has(model)):
        info = read_gguf(path)
        facts = {"name": path.stem, "kind": "llm", "path": str(path.resolve()),
                 "size_bytes": path.stat().st_size, "sha256": None,
                 "source": f"file:{path.resolve()}", "created": None}
        return _with_gguf(facts, info, None), info
    store = _store()
    manifest = store.manifest(model)
    blob = store.blob_path(model)
    facts = {"name": manifest["name"], "kind": manifest.get("kind"), "path": str(blob),
             "size_bytes": manifest["size"], "sha256": manifest["sha256"],
             "source": manifest.get("source"), "created": manifest.get("created"),
             "files": manifest.get("files", [])}
    info = read_gguf(blob) if manifest.get("digest") != "tree" else None
    return _with_gguf(facts, info, manifest.get("licence")), info


def _with_gguf(facts: dict[str, Any], info: Any, licence: str | None) -> dict[str, Any]:
    from slmkit.models import catalog

    entry = catalog.get(facts["name"])
    summary = info.summary() if info is not None else {}
    facts.update({k: v for k, v in summary.items() if k not in ("name", "licence")})
    facts["model_name"] = summary.get("name")
    facts["licence"] = (entry.licence if entry else None) or licence or summary.get("licence")
    facts["chat_template"] = info.chat_template if info is not None else None
    return facts


def show(args: argparse.Namespace) -> int:
    """Print a model's architecture, size, quantization, template, licence, digest."""
    from slmkit.models.gguf_file import display_metadata

    facts, info = describe(args.model)
    if args.metadata and info is not None:
        facts["metadata"] = display_metadata(info.metadata)
    if args.json:
        print_json(facts)
        return 0
    con = stdout_console()
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
        ("parameters", human_params(facts.get("parameters"))),
        ("quantization", facts.get("quantization")),
        ("context length", facts.get("context_length")),
        ("embedding", facts.get("embedding_length")), ("layers", facts.get("block_count")),
        ("vocabulary", facts.get("vocab_size")), ("licence", facts.get("licence")),
        ("size", human_size(facts.get("size_bytes"))), ("sha256", facts.get("sha256")),
        ("path", facts.get("path")), ("source", facts.get("source")),
    ]
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
        stdout_console().print(f"removed {name} ({note})", highlight=False)
    return 0


def verify(args: argparse.Namespace) -> int:
    """Re-hash a stored model; a mismatch exits 1 with the expected and actual digests."""
    store = _store()
    progress = None if args.json or not sys.stderr.isatty() else _stderr()
    ref = store.verify(args.model, progress=progress)
    if args.json:
        print_json({"name": ref.name, "ok": True, "sha256": ref.sha256, "path": ref.path,
                    "size_bytes": ref.size_bytes})
    else:
        stdout_console().print(f"{ref.name}: ok (sha256 {ref.sha256})", highlight=False)
    return 0


def _stderr():
    from slmkit.cli.output import stderr_console

    return stderr_console()
