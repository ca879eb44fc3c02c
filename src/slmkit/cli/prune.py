"""`slm prune MODEL`: unstructured / N:M pruning (wanda, magnitude) or structured pruning
(whole layers, MLP channels), calibrated on your text.

Without ``-o`` the result is registered in the store as ``--name`` (the GGUF) and
``--name``-hf (the Hugging Face directory), with the source as parent; with ``-o DIR`` both
are written there and left alone.
"""

from __future__ import annotations

import argparse
import sys

from slmkit.cli.args import (
    NO_PULL_HELP,
    SOURCE_HELP,
    Opt,
    derived,
    json_option,
    model,
    options,
)


def configure(p: argparse.ArgumentParser) -> None:
    model(p, SOURCE_HELP, required=True)
    options(p.add_argument_group("unstructured / N:M"),
            method=Opt(None, "wanda: |W|·||X|| from calibration activations (default); "
                             "magnitude: |W| only", choices=("wanda", "magnitude")),
            sparsity=Opt(None, "fraction zeroed, e.g. 0.5, or an N:M pattern such as 2:4", "S"))
    options(p.add_argument_group("structured (a smaller model)"),
            structured=Opt(None, "depth: drop whole decoder layers; width: drop MLP channels; "
                                 "heads: drop attention KV groups (a KV head and its query "
                                 "heads)", choices=("depth", "width", "heads")),
            ratio=Opt(None, "share removed: of the layers (depth), MLP channels (width) or KV "
                            "groups (heads)", "R", float),
            multiple_of=Opt(32, "width: keep a multiple of N channels (32: a quant block)"))
    options(p, data=Opt(None, "calibration text: a .txt/.jsonl/.csv file or a named dataset "
                              "(e.g. wikipedia)", "FILE"),
            samples=Opt(32, "calibration sequences"),
            seq_len=Opt(256, "tokens per calibration sequence"),
            type=Opt("f16", "GGUF type of the result", choices=("f32", "f16", "q8_0")),
            no_pull=Opt(False, NO_PULL_HELP))
    derived(p, output="DIR", name_default="derived",
            force="replace an existing name/output")
    json_option(p)


def run(args) -> int:
    from slmkit.cli.output import emit, status
    from slmkit.compress import summaries
    from slmkit.compress.prune import PruneSpec, prune_to_store
    from slmkit.models.store import Store

    spec = PruneSpec(args.method, args.sparsity, args.structured, args.ratio,
                     args.multiple_of).checked(args.data)
    status(args, f"pruning {args.model} ({spec.method_tag().removeprefix('prune:')}) …")
    report = prune_to_store(Store(), args.model, spec, name=args.name, data=args.data,
                            n_samples=args.samples, seq_len=args.seq_len, gguf_type=args.type,
                            output=args.output, overwrite=args.force,
                            pull_missing=not args.no_pull)
    emit(args, report, summaries.pruned(report))
    if "mode" not in report and not args.json:
        print(report["cpu_speed_note"], file=sys.stderr)
    return 0
