"""`slm merge BASE ADAPTER_DIR`: merge a fine-tune into its base, or export the adapter.

Default: dequantize the base → merge the LoRA in float → GGUF → quantize to ``--type`` →
register in the store as ``--name`` with the base as parent (lineage). ``--adapter-gguf
FILE`` instead writes the adapter alone as a llama.cpp LoRA GGUF (no merge), for
`slm serve BASE --adapter NAME=FILE`.
"""

from __future__ import annotations

import argparse
import time

from slmkit.cli.args import NO_PULL_HELP, Opt, derived, json_option, model, options


def configure(p: argparse.ArgumentParser) -> None:
    model(p, "the base model the adapter was trained on (stored name, .gguf)", required=True,
          name="base")
    p.add_argument("adapter", help="the --output directory of `slm finetune`")
    options(p, type=Opt("Q4_K_M", "GGUF type of the merged model: Q4_K_M, Q5_K_M, Q8_0, F16, "
                                  "F32…", "TYPE"),
            adapter_gguf=Opt(None, "only export the adapter as a llama.cpp LoRA GGUF to FILE "
                                   "(no merge)", "FILE"),
            threads=Opt(0, "CPU threads for the merge and the quantization (0: all cores)"),
            no_pull=Opt(False, NO_PULL_HELP))
    derived(p, output="FILE", what="the merged model", name_default="BASE-ft-TYPE",
            force="replace an existing output / name")
    json_option(p)


def run(args) -> int:
    from slmkit.cli.output import emit, human_size, status
    from slmkit.models.store import Store

    t0 = time.perf_counter()
    if args.adapter_gguf:
        from slmkit.adapt.export import export_for_stored_base

        info = export_for_stored_base(Store(), args.base, args.adapter, args.adapter_gguf,
                                      overwrite=args.force, pull_missing=not args.no_pull)
        info["message"] = (f"adapter GGUF written to {info['adapter_gguf']} "
                           f"({human_size(info['size_bytes'])}); serve it: slm serve "
                           f"{info['base']} --adapter NAME={info['adapter_gguf']}")
    else:
        from slmkit.adapt.merge import merge_adapter

        status(args, f"merging {args.adapter} into {args.base} → {args.type} …")
        info = merge_adapter(Store(), args.base, args.adapter, name=args.name,
                             out_type=args.type, output=args.output, overwrite=args.force,
                             pull_missing=not args.no_pull, n_threads=args.threads)
        info["message"] = (f"merged model written to {info['path']}" if args.output else
                           f"{info['parent']} + {args.adapter} → stored as {info['name']} "
                           f"({human_size(info['size_bytes'])}, {args.type}); "
                           f"try: slm run {info['name']} \"…\"")
    info["seconds"] = round(time.perf_counter() - t0, 2)
    return emit(args, info, info["message"])
