"""`slm merge BASE ADAPTER_DIR`: merge a fine-tune into its base, or export the adapter."""

from __future__ import annotations

from slmkit.cli.args import Opt, derived, json_option, model, options


def configure(p) -> None:
    model(p, "the base model the adapter was trained on (stored name, .gguf)", required=True,
          name="base")
    options(p, adapter=Opt(None, "the --output directory of `slm finetune`", positional=True),
            type=Opt("Q4_K_M", "GGUF type of the merged model: Q4_K_M, Q5_K_M, Q8_0, F16, "
                               "F32…", "TYPE"),
            adapter_gguf=Opt(None, "only export the adapter as a llama.cpp LoRA GGUF to FILE "
                                   "(no merge)", "FILE"),
            threads=Opt(0, "CPU threads for the merge and the quantization (0: all cores)"))
    derived(p, output="FILE", what="the merged model", name_default="BASE-ft-TYPE",
            force="replace an existing output / name", no_pull=True)
    json_option(p)


def run(args) -> int:
    from slmkit.adapt.merge import merge_or_export
    from slmkit.cli.output import emit, status
    from slmkit.models.store import Store

    if not args.adapter_gguf:
        status(args, f"merging {args.adapter} into {args.base} → {args.type} …")
    info = merge_or_export(Store(), args.base, args.adapter, adapter_gguf=args.adapter_gguf,
                           name=args.name, out_type=args.type, output=args.output,
                           overwrite=args.force, pull_missing=not args.no_pull,
                           n_threads=args.threads)
    return emit(args, info, info["message"])
