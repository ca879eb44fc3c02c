"""`slm finetune MODEL --data train.jsonl`: LoRA / QLoRA / full fine-tuning on CPU.

Writes into ``--output``: the peft adapter (or, for ``full``, a Hugging Face model),
``adapter.gguf`` (llama.cpp's LoRA format, for `slm serve --adapter` / `slm run`),
checkpoints, and ``report.json`` with the training history and — with ``--eval`` — the
before/after evaluation on the held-apart examples.
"""

from __future__ import annotations

import argparse

from slmkit.cli.args import NO_PULL_HELP, Opt, csv_list, json_option, model, options


def configure(p: argparse.ArgumentParser) -> None:
    model(p, "base model: stored name, .gguf file or HF directory (default: the catalog's "
             "default model)")
    options(p, data=Opt(None, 'training jsonl: {"messages": [...]} or {"prompt", "completion"} '
                              "a line", "FILE", required=True),
            eval=Opt(None, "held-apart jsonl: validation loss during training and the "
                           "before/after evaluation", "FILE"),
            output=Opt(None, "where to write (default ./finetune-<model>-<method>)", "DIR",
                       short="-o"),
            method=("lora", "qlora", "full"))
    options(p.add_argument_group("LoRA"), rank=8, alpha=16.0, dropout=0.05,
            target_modules=Opt(None, "linear layers to adapt (default: the architecture's, "
                                     "e.g. q,k,v,o,gate,up,down projections)", "A,B,…"),
            layers=Opt(None, "adapt only the last N transformer layers (the backward pass "
                             "stops there: much faster on CPU; default: all)", type=int))
    options(p.add_argument_group("training"), epochs=1.0,
            max_steps=Opt(None, "stop after N optimizer steps (overrides --epochs)", type=int),
            lr=Opt(None, "learning rate (default 2e-4 for LoRA/QLoRA, 2e-5 for full)",
                   type=float),
            schedule=("cosine", "linear", "constant"), warmup=Opt(0.05, metavar="FRACTION"),
            batch_size=4, grad_accum=1, max_seq_len=Opt(512, metavar="TOKENS"), seed=0,
            eval_every=Opt(0, "validation loss every N steps (default: 5 times per run)",
                           "STEPS"),
            save_every=Opt(0, "checkpoint every N steps (default: only at the end)", "STEPS"),
            resume=Opt(False, "continue from the newest checkpoint in --output"), threads=0)
    options(p.add_argument_group("before/after evaluation (needs --eval)"),
            no_compare=Opt(False, "skip the before/after evaluation with llama.cpp"),
            compare_limit=Opt(100, "held-apart examples answered for the accuracy"))
    options(p, no_pull=Opt(False, NO_PULL_HELP))
    json_option(p)


def run(args) -> int:
    from slmkit.adapt import finetune as ft
    from slmkit.adapt.lora import LoraSettings
    from slmkit.adapt.train import TrainConfig
    from slmkit.cli.output import TrainingBar, print_json, quiet, status, stdout_console, warn
    from slmkit.models.store import Store

    config = TrainConfig(
        output=args.output or "", method=args.method,
        lora=LoraSettings(args.rank, args.alpha, args.dropout,
                          csv_list(args.target_modules) or None, args.layers),
        epochs=args.epochs, max_steps=args.max_steps, lr=args.lr, schedule=args.schedule,
        warmup=args.warmup, batch_size=args.batch_size, grad_accum=args.grad_accum,
        max_seq_len=args.max_seq_len, seed=args.seed, eval_every=args.eval_every,
        save_every=args.save_every, resume=args.resume, threads=args.threads)
    with TrainingBar("training", enabled=not quiet(args)) as bar:
        report = ft.finetune_model(Store(), args.model, args.data, config, eval_path=args.eval,
                                   progress=bar, pull_missing=not args.no_pull)
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
