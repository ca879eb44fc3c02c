"""`slm finetune MODEL --data train.jsonl`: LoRA / QLoRA / full fine-tuning on CPU."""

from __future__ import annotations

from slmkit.cli.args import Opt, config_from, config_options, json_option, model, options


def configure(p) -> None:
    from slmkit.adapt.train import TrainConfig

    model(p, "base model: stored name, .gguf file or HF directory (default: the catalog's "
             "default model)")
    options(p, data=Opt(None, 'training jsonl: {"messages": [...]} or {"prompt", "completion"} '
                              "a line", "FILE", required=True),
            eval=Opt(None, "held-apart jsonl: validation loss during training and the "
                           "before/after evaluation", "FILE"))
    config_options(p, TrainConfig)
    options(p.add_argument_group("before/after evaluation (needs --eval)"),
            no_compare=Opt(False, "skip the before/after evaluation with llama.cpp"),
            compare_limit=Opt(100, "held-apart examples answered for the accuracy"))
    json_option(p, no_pull=True)


def run(args) -> int:
    from slmkit.adapt import finetune as ft
    from slmkit.adapt.train import TrainConfig
    from slmkit.cli.output import TrainingBar, print_json, quiet, status, stdout_console, warn
    from slmkit.models.store import Store

    with TrainingBar("training", enabled=not quiet(args)) as bar:
        report = ft.finetune_model(Store(), args.model, args.data, config_from(args, TrainConfig),
                                   eval_path=args.eval, progress=bar,
                                   pull_missing=not args.no_pull)
    if (text := ft.data_warnings(report)) and not args.json:
        warn(text)
    if report.get("adapter_gguf_error"):
        warn(f"adapter GGUF not written: {report['adapter_gguf_error']}")
    if args.eval and not args.no_compare and report.get("adapter_gguf"):
        status(args, f"evaluating base and base+adapter on up to {args.compare_limit} "
                     "held-apart examples …")
        report["compare"] = ft.compare_with_base(report, args.eval, limit=args.compare_limit,
                                                 n_threads=args.threads)
        ft.save_report(report)
    if args.json:
        return print_json(report)
    ft.print_summary(stdout_console(), report)
    return 0
