"""`slm recommend [--task T] [--max-latency-ms N] [--ram-budget SIZE]`: measure the stored
models on this machine and pick one for a task. The work is in
:mod:`slmkit.evaluate.recommend`; this module parses and prints."""

from __future__ import annotations

import argparse
import re

from slmkit.cli.args import Opt, json_option, options

UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


def size(text: str) -> int:
    """``512M``, ``2G``, ``1.5GiB`` or bytes."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?\s*", text, re.IGNORECASE)
    if not m:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 512M, 2G)")
    return int(float(m.group(1)) * UNITS[m.group(2).upper()])


def configure(p: argparse.ArgumentParser) -> None:
    from slmkit.evaluate.recommend import TASKS

    options(p, task=Opt("chat", "what the model will do (sets prompt/answer length, context)",
                        choices=tuple(TASKS)),
            max_latency_ms=Opt(None, "longest acceptable time for one answer", "MS", float),
            ram_budget=Opt(None, "memory the model may use (default: 90%% of available RAM)",
                           "SIZE", size),
            threads=Opt(0, "CPU threads (0: the free physical cores)", type=int),
            gen=Opt(32, "tokens generated per model for the decode rate", type=int))
    json_option(p)


def run(args: argparse.Namespace) -> int:
    from slmkit.cli.output import emit, progress, table
    from slmkit.evaluate.recommend import recommend
    from slmkit.models import catalog, hardware
    from slmkit.models.speeds import default_book
    from slmkit.models.store import Store

    budget = args.ram_budget or int(catalog.memory_budget(hardware.probe()).bytes * 0.9)
    with progress(args) as bars:
        rec = recommend(args.task, store=Store(), budget_bytes=budget,
                        max_latency_ms=args.max_latency_ms, threads=args.threads,
                        gen=args.gen, progress=bars, speeds=default_book())
    rows = [(c.model, c.verdict, f"{c.memory_bytes / 2**20:.0f} MiB" if c.memory_bytes else None,
             _rate(c.metrics.get("decode_tps")), _rate(c.metrics.get("prompt_512_tps")),
             f"{c.latency_ms:.0f}" if c.latency_ms is not None else None,
             f"{c.quality.score:.2f}" if c.quality else None) for c in rec.candidates]
    if not args.json:
        from slmkit.cli.output import show

        show(table("model", "verdict", "memory", "decode tok/s", "prefill tok/s",
                   f"{args.task} ms", "quality", rows=rows), wide=True)
    emit(args, rec.to_dict(), rec.explain())
    return 0 if rec.chosen else 1


def _rate(value: float | None) -> str | None:
    return None if value is None else f"{value:.0f}"
