"""`slm merge BASE ADAPTER_DIR`: merge a fine-tune into its base, or export the adapter.

Default: dequantize the base → merge the LoRA in float → GGUF → quantize to ``--type`` →
register in the store as ``--name`` with the base as parent (lineage). ``--adapter-gguf
FILE`` instead writes the adapter alone as a llama.cpp LoRA GGUF (no merge), for
`slm serve BASE --adapter NAME=FILE`.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

from slmkit.cli.output import add_json_flag


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("base", help="the base model the adapter was trained on (stored name, .gguf)")
    p.add_argument("adapter", help="the --output directory of `slm finetune`")
    p.add_argument("--name", help="store name of the merged model (default BASE-ft-TYPE)")
    p.add_argument("--type", default="Q4_K_M", metavar="TYPE",
                   help="GGUF type of the merged model: Q4_K_M (default), Q5_K_M, Q8_0, F16, F32…")
    p.add_argument("-o", "--output", metavar="FILE",
                   help="write the merged GGUF here instead of registering it in the store")
    p.add_argument("--adapter-gguf", metavar="FILE",
                   help="only export the adapter as a llama.cpp LoRA GGUF to FILE (no merge)")
    p.add_argument("--force", action="store_true", help="replace an existing output / name")
    p.add_argument("--no-pull", action="store_true")
    add_json_flag(p)


def run(args) -> int:
    from slmkit.cli.output import print_json
    from slmkit.models.store import Store, validate_name

    store = Store()
    ref = store.resolve(args.base, pull_missing=not args.no_pull)
    t0 = time.perf_counter()
    if args.adapter_gguf:
        info = _export(ref, args)
    else:
        name = args.name or f"{ref.name}-ft-{args.type.lower()}"
        validate_name(name)
        if args.output is None and store.has(name) and not args.force:
            raise ValueError(f"{name!r} is already in the store; pass --force or --name")
        info = _merge(store, ref, name, args)
    info["seconds"] = round(time.perf_counter() - t0, 2)
    if args.json:
        print_json(info)
    else:
        print(info["message"])
    return 0


def _export(ref, args) -> dict:
    from slmkit.adapt.export import export_adapter_gguf
    from slmkit.adapt.lora import float_dir

    out = export_adapter_gguf(args.adapter, float_dir(ref.path, ref.sha256),
                              Path(args.adapter_gguf).expanduser(), overwrite=args.force)
    return {"base": ref.name, "adapter": args.adapter, "adapter_gguf": str(out),
            "size_bytes": out.stat().st_size,
            "message": f"adapter GGUF written to {out} ({out.stat().st_size / 2**20:.1f} MiB); "
                       f"serve it: slm serve {ref.name} --adapter NAME={out}"}


def _merge(store, ref, name: str, args) -> dict:
    from slmkit.adapt.merge import adapter_base, merge
    from slmkit.cli.output import stderr_console

    trained_on = adapter_base(args.adapter)
    if trained_on and trained_on not in (ref.name, ref.path) and not args.force:
        raise ValueError(f"{args.adapter} was trained on {trained_on!r}, not {ref.name!r}; "
                         "pass --force to merge anyway")
    if not (args.json or not sys.stderr.isatty()):
        stderr_console().print(f"[dim]merging {args.adapter} into {ref.name} → {args.type} …[/]")
    method = f"merge:{Path(args.adapter).name}+{args.type.lower()}"
    if args.output:
        out = merge(ref.path, args.adapter, Path(args.output).expanduser(),
                    out_type=args.type, base_sha256=ref.sha256)
        return {"name": None, "path": str(out), "parent": ref.name, "method": method,
                "message": f"merged model written to {out}"}
    store.tmp.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="merge-", dir=store.tmp))
    try:
        out = merge(ref.path, args.adapter, scratch / f"{name}.gguf", out_type=args.type,
                    base_sha256=ref.sha256)
        stored = store.add(out, name, parent=ref.name, method=method)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return {"name": name, "path": stored.path, "parent": ref.name, "method": method,
            "size_bytes": stored.size_bytes,
            "message": f"{ref.name} + {args.adapter} → stored as {name} "
                       f"({stored.size_bytes / 2**20:.1f} MiB, {args.type}); "
                       f"try: slm run {name} \"…\""}
