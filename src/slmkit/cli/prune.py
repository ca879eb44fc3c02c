"""`slm prune MODEL`: unstructured / N:M or structured pruning, calibrated on your text."""

from __future__ import annotations

import sys

from slmkit.cli.args import Opt, config_from, config_options, derived, json_option, options, source


def configure(p) -> None:
    from slmkit.compress.prune import PruneSpec

    source(p)
    config_options(p, PruneSpec)
    options(p, data=Opt(None, "calibration text: a .txt/.jsonl/.csv file or a named dataset "
                              "(e.g. wikipedia)", "FILE"),
            samples=Opt(32, "calibration sequences"),
            seq_len=Opt(256, "tokens per calibration sequence"),
            type=Opt("f16", "GGUF type of the result", choices=("f32", "f16", "q8_0")))
    derived(p, output="DIR", name_default="derived", force="replace an existing name/output",
            no_pull=True)
    json_option(p)


def run(args) -> int:
    from slmkit.cli.output import emit, status
    from slmkit.compress import summaries
    from slmkit.compress.prune import PruneSpec, prune_to_store
    from slmkit.models.store import Store

    spec = config_from(args, PruneSpec).checked(args.data)
    status(args, f"pruning {args.model} ({spec.method_tag().removeprefix('prune:')}) …")
    report = prune_to_store(Store(), args.model, spec, name=args.name, data=args.data,
                            n_samples=args.samples, seq_len=args.seq_len, gguf_type=args.type,
                            output=args.output, overwrite=args.force,
                            pull_missing=not args.no_pull)
    emit(args, report, summaries.pruned(report))
    if "mode" not in report and not args.json:
        print(report["cpu_speed_note"], file=sys.stderr)
    return 0
