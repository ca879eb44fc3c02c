"""`slm finetune MODEL --data train.jsonl`: LoRA / QLoRA / full fine-tuning on CPU.

Writes into ``--output``: the peft adapter (or, for ``full``, a Hugging Face model),
``adapter.gguf`` (llama.cpp's LoRA format, for `slm serve --adapter` / `slm run`),
checkpoints, and ``report.json`` with the training history and — with ``--eval`` — the
before/after evaluation on the held-apart examples.
"""

from __future__ import annotations

import argparse
import sys

from slmkit.cli.output import (
    TrainingBar,
    add_json_flag,
    print_json,
    stderr_console,
    stdout_console,
)


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", nargs="?", default=None,
                   help="base model: stored name, .gguf file or HF directory (default: the "
                        "catalog's default model)")
    p.add_argument("--data", required=True, metavar="FILE",
                   help='training jsonl: {"messages": [...]} or {"prompt", "completion"} a line')
    p.add_argument("--eval", metavar="FILE", help="held-apart jsonl: validation loss during "
                   "training and the before/after evaluation")
    p.add_argument("--output", "-o", metavar="DIR", help="where to write (default ./finetune-"
                   "<model>-<method>)")
    p.add_argument("--method", choices=("lora", "qlora", "full"), default="lora")
    lo = p.add_argument_group("LoRA")
    lo.add_argument("--rank", type=int, default=8)
    lo.add_argument("--alpha", type=float, default=16.0)
    lo.add_argument("--dropout", type=float, default=0.05)
    lo.add_argument("--target-modules", default=None, metavar="A,B,…",
                    help="linear layers to adapt (default: the architecture's, e.g. "
                         "q,k,v,o,gate,up,down projections)")
    lo.add_argument("--layers", type=int, default=None, metavar="N",
                    help="adapt only the last N transformer layers (the backward pass stops "
                         "there: much faster on CPU; default: all layers)")
    tr = p.add_argument_group("training")
    tr.add_argument("--epochs", type=float, default=1.0)
    tr.add_argument("--max-steps", type=int, default=None, metavar="N",
                    help="stop after N optimizer steps (overrides --epochs)")
    tr.add_argument("--lr", type=float, default=None,
                    help="learning rate (default 2e-4 for LoRA/QLoRA, 2e-5 for full)")
    tr.add_argument("--schedule", choices=("cosine", "linear", "constant"), default="cosine")
    tr.add_argument("--warmup", type=float, default=0.05, metavar="FRACTION")
    tr.add_argument("--batch-size", type=int, default=4)
    tr.add_argument("--grad-accum", type=int, default=1, metavar="N")
    tr.add_argument("--max-seq-len", type=int, default=512, metavar="TOKENS")
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--eval-every", type=int, default=0, metavar="STEPS",
                    help="validation loss every N steps (default: 5 times per run)")
    tr.add_argument("--save-every", type=int, default=0, metavar="STEPS",
                    help="checkpoint every N steps (default: only at the end)")
    tr.add_argument("--resume", action="store_true",
                    help="continue from the newest checkpoint in --output")
    tr.add_argument("--threads", type=int, default=0, metavar="N")
    ev = p.add_argument_group("before/after evaluation (needs --eval)")
    ev.add_argument("--no-compare", action="store_true",
                    help="skip the before/after evaluation with llama.cpp")
    ev.add_argument("--compare-limit", type=int, default=100, metavar="N",
                    help="held-apart examples answered for the accuracy (default 100)")
    p.add_argument("--no-pull", action="store_true")
    add_json_flag(p)


def run(args) -> int:
    from slmkit.adapt.finetune import data_warnings, finetune_model, save_report
    from slmkit.adapt.lora import LoraSettings
    from slmkit.adapt.train import TrainConfig
    from slmkit.models.store import Store

    targets = tuple(t.strip() for t in args.target_modules.split(",") if t.strip()) \
        if args.target_modules else None
    config = TrainConfig(
        output=args.output or "", method=args.method,
        lora=LoraSettings(args.rank, args.alpha, args.dropout, targets, args.layers),
        epochs=args.epochs, max_steps=args.max_steps, lr=args.lr, schedule=args.schedule,
        warmup=args.warmup, batch_size=args.batch_size, grad_accum=args.grad_accum,
        max_seq_len=args.max_seq_len, seed=args.seed, eval_every=args.eval_every,
        save_every=args.save_every, resume=args.resume, threads=args.threads)
    quiet = args.json or not sys.stderr.isatty()
    with TrainingBar("training", enabled=not quiet) as bar:
        report = finetune_model(Store(), args.model, args.data, config, eval_path=args.eval,
                                progress=bar, pull_missing=not args.no_pull)
    err = stderr_console()
    if (warn := data_warnings(report)) and not args.json:
        err.print(f"[yellow]{warn}[/]", highlight=False)
    if report.get("adapter_gguf_error"):
        err.print(f"[yellow]adapter GGUF not written: {report['adapter_gguf_error']}[/]")
    if args.eval and not args.no_compare and report.get("adapter_gguf"):
        report["compare"] = _compare(report, args, quiet)
        save_report(report)
    if args.json:
        print_json(report)
    else:
        _print_summary(report, report["base"])
    return 0


def _compare(report: dict, args, quiet: bool) -> dict:
    """Base vs base+adapter in llama.cpp on the held-apart examples."""
    from slmkit.adapt.finetune import compare
    from slmkit.models.load import load
    from slmkit.runtime.torch.loader import is_gguf

    if not is_gguf(report["base_path"]):
        return {"skipped": "the base is not a GGUF file"}
    if not quiet:
        stderr_console().print(f"[dim]evaluating base and base+adapter on up to "
                               f"{args.compare_limit} held-apart examples …[/]")
    with load(report["base_path"], backend="llamacpp", n_ctx=2048, n_threads=args.threads,
              adapters={"tuned": report["adapter_gguf"]}) as eng:
        return compare(eng, args.eval, limit=args.compare_limit)


def _print_summary(report: dict, base: str) -> None:
    from rich.table import Table

    con = stdout_console()
    hist = [h for h in report["history"] if "loss" in h]
    evals = [h for h in report["history"] if "eval_loss" in h]
    con.print(f"{report['method']} fine-tune of {base}: {report['steps']} steps in "
              f"{report['seconds']:.1f} s, {report['tokens_per_second']:.0f} tokens/s, "
              f"peak RSS {report['peak_rss_mb']:.0f} MB, "
              f"{report['trainable_params']:,} trainable parameters", highlight=False)
    if hist:
        con.print(f"train loss {hist[0]['loss']:.3f} → {hist[-1]['loss']:.3f}"
                  + (f"; eval loss {evals[0]['eval_loss']:.3f} → {evals[-1]['eval_loss']:.3f}"
                     if evals else ""), highlight=False)
    cmp_ = report.get("compare") or {}
    if "before" in cmp_:
        t = Table("held-apart", "base", "base+adapter")
        for key in ("accuracy", "answer_ppl", "text_ppl"):
            b, a = cmp_["before"].get(key), cmp_["after"].get(key)
            if b is not None:
                t.add_row(key, f"{b:.4g}", f"{a:.4g}")
        con.print(t)
    con.print(f"written to {report['output']}"
              + (f" (adapter GGUF: {report['adapter_gguf']})" if report.get("adapter_gguf")
                 else ""), highlight=False)
