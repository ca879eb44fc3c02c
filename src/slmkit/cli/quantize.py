"""`slm quantize MODEL --type T`: a GGUF type (optionally calibrated) or torchao int8/int4;
`--make-reference`: the off-grid float reference to measure against."""

from __future__ import annotations

import sys

from slmkit.cli.args import Opt, config_from, config_options, derived, json_option, options, source

REFERENCE = "off-grid reference (--make-reference)"


def configure(p) -> None:
    from slmkit.compress.quantize_options import QuantizeOptions
    from slmkit.compress.reference import ReferenceConfig

    source(p)
    config_options(p, QuantizeOptions)
    derived(p, what="the result", name_default="MODEL-TYPE[-awq]")
    options(p.add_argument_group(REFERENCE), make_reference=Opt(
        False, "make MODEL-offgrid: dequantize, move the weights off the 4-bit grid "
               "(function-preserving channel rescaling), short continued pre-training; "
               "register F32 GGUF + HF directory"))
    config_options(p, ReferenceConfig, "ref_")
    options(p, threads=Opt(0, "CPU threads"))
    json_option(p)


def run(args) -> int:
    from slmkit.cli.output import emit, progress
    from slmkit.compress.quantize_options import QuantizeOptions, quantize
    from slmkit.compress.reference import ReferenceConfig

    reference = config_from(args, ReferenceConfig, "ref_", threads=args.threads)
    with progress(args) as bars:
        done = quantize(args.model, config_from(args, QuantizeOptions), name=args.name,
                        reference=reference if args.make_reference else None,
                        output=args.output, force=args.force, threads=args.threads,
                        progress=bars)
    emit(args, done.result, done.text)
    if done.note and not args.json:
        print(done.note, file=sys.stderr)
    return 0
