"""`slm merge BASE ADAPTER_DIR`: merge a fine-tune into its base, or export the adapter.

Default: dequantize the base → merge the LoRA in float → GGUF → quantize to ``--type`` →
register in the store as ``--name`` with the base as parent (lineage). ``--adapter-gguf
FILE`` instead writes the adapter alone as a llama.cpp LoRA GGUF (no merge), for
`slm serve BASE --adapter NAME=FILE`.
"""

from __future__ import annotations

import argparse
import sys
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
    p.add_argument("--threads", type=int, default=0, metavar="N",
                   help="CPU threads for the merge and the quantization (default: all cores)")
    p.add_argument("--force", action="store_true", help="replace an existing output / name")
    p.add_argument("--no-pull", action="store_true")
    add_json_flag(p)


def run(args) -> int:
    from slmkit.cli.output import human_size, print_json, stderr_console
    from slmkit.models.store import Store

    t0 = time.perf_counter()
    if args.adapter_gguf:
        from slmkit.adapt.export import export_for_base

        ref = Store().resolve(args.base, pull_missing=not args.no_pull)
        out = export_for_base(args.adapter, ref.path, Path(args.adapter_gguf).expanduser(),
                              base_sha256=ref.sha256, overwrite=args.force)
        size = out.stat().st_size
        info = {"base": ref.name, "adapter": args.adapter, "adapter_gguf": str(out),
                "size_bytes": size,
                "message": f"adapter GGUF written to {out} ({human_size(size)}); "
                           f"serve it: slm serve {ref.name} --adapter NAME={out}"}
    else:
        from slmkit.adapt.merge import merge_adapter

        if not args.json and sys.stderr.isatty():
            stderr_console().print(f"[dim]merging {args.adapter} into {args.base} → "
                                   f"{args.type} …[/]")
        info = merge_adapter(Store(), args.base, args.adapter, name=args.name,
                             out_type=args.type, output=args.output, overwrite=args.force,
                             pull_missing=not args.no_pull, n_threads=args.threads)
        info["message"] = (f"merged model written to {info['path']}" if args.output else
                           f"{info['parent']} + {args.adapter} → stored as {info['name']} "
                           f"({human_size(info['size_bytes'])}, {args.type}); "
                           f"try: slm run {info['name']} \"…\"")
    info["seconds"] = round(time.perf_counter() - t0, 2)
    if args.json:
        print_json(info)
    else:
        print(info["message"])
    return 0
