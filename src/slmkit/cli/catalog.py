"""`slm catalog`: known small models, their memory at F16 / Q8_0 / Q4_K_M, what fits here.

Maps arguments onto :func:`slmkit.models.catalog.survey`; this module only formats.
"""

from __future__ import annotations

import argparse

from slmkit.cli.args import Opt, json_option, options, positive_int
from slmkit.cli.output import format_bytes, format_ctx, format_params

SHOWN_QUANTS: tuple[str, ...] = ("F16", "Q8_0", "Q4_K_M")


def configure(parser: argparse.ArgumentParser) -> None:
    """Add ``--fits``, ``--ctx``, ``--quant``, ``--tier`` and ``--json``."""
    from slmkit.models.catalog import BITS_PER_WEIGHT, TIER_NAMES

    options(parser, fits=Opt(False, "only models whose --quant at --ctx fits this machine"),
            ctx=Opt(4096, "context length to size the KV cache for", "N", positive_int),
            quant=Opt("Q4_K_M", f"quantization for the fit test ({', '.join(BITS_PER_WEIGHT)})",
                      "Q", _quant),
            tier=Opt(None, "only micro (<1B), small (1-7B) or medium (7-15B) models",
                     choices=TIER_NAMES))
    json_option(parser)


def run(args: argparse.Namespace) -> int:
    """Print the catalog as a table (or JSON) sized for this machine."""
    from slmkit.models import catalog, hardware

    hw = hardware.probe()
    candidates = catalog.survey(hw, quant=args.quant, n_ctx=args.ctx, tier=args.tier,
                                only_fitting=args.fits)
    quants = _quants_shown(args.quant)
    if args.json:
        from slmkit.cli.output import print_json

        print_json(catalog.survey_report(hw, candidates, quants, quant=args.quant,
                                         n_ctx=args.ctx, tier=args.tier,
                                         only_fitting=args.fits))
        return 0
    _print_table(hw, candidates, quants, args)
    return 0


# ---------------------------------------------------------------- arguments


def _quant(text: str) -> str:
    from slmkit.models.catalog import normalize_quant

    try:
        return normalize_quant(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _quants_shown(quant: str) -> tuple[str, ...]:
    return SHOWN_QUANTS if quant in SHOWN_QUANTS else (*SHOWN_QUANTS, quant)


# ---------------------------------------------------------------- table


WIDE_TABLE_COLUMNS = 150  # below this, tier/licence/use move into the name cell


def _print_table(hw, candidates, quants, args) -> None:
    from slmkit.cli.output import stdout_console
    from slmkit.models import catalog, hardware

    console = stdout_console()
    if not console.is_terminal:  # a file or a pipe: one line per model, never wrapped
        print(plain_table(hw, candidates, quants, args))
        return
    console.print(hardware.summary(hw), highlight=False)
    budget = catalog.memory_budget(hw)
    console.print(
        f"[dim]memory at ctx {args.ctx}: weights + f16 KV cache + compute buffer; "
        f"'fits' = {args.quant} within {1 - catalog.DEFAULT_HEADROOM:.0%} of "
        f"{budget.label}[/]", highlight=False)
    wide = console.width >= WIDE_TABLE_COLUMNS
    console.print(_table(candidates, quants, args, wide))
    default = catalog.default_model().name
    shown = any(c.entry.default for c in candidates)
    console.print(f"* default model: {default}" + ("" if shown else " (filtered out)"),
                  highlight=False)
    if not candidates:
        console.print("[yellow]no model matches; try a smaller --ctx, a smaller --quant "
                      "or leave out --fits[/]")


def _table(candidates, quants, args, wide: bool):
    from rich.table import Table

    table = Table(header_style="bold")
    table.add_column("name", no_wrap=wide, overflow="fold", min_width=20 if wide else 10)
    table.add_column("params", no_wrap=True)
    if wide:
        table.add_column("tier", no_wrap=True)
    table.add_column("ctx", no_wrap=True)
    if wide:
        table.add_column("licence")
    for q in quants:
        table.add_column(q, justify="right", no_wrap=True)
    table.add_column(f"fits {args.quant}" if wide else "fits", justify="center")
    table.add_column("offline", justify="center")
    if wide:
        table.add_column("use", overflow="fold", min_width=24)
    for c in candidates:
        table.add_row(*_row(c, quants, args.ctx, wide))
    return table


def _row(c, quants, n_ctx, wide: bool) -> list[str]:
    from rich.markup import escape

    from slmkit.models import catalog

    e = c.entry
    sizes = [format_bytes(catalog.estimate_memory(e, q, n_ctx).total) for q in quants]
    name = f"{e.name} *" if e.default else e.name
    if e.kind != "llm":
        name += f" ({e.kind})"
    fit = "[green]✓[/]" if c.fits else "[red]✗[/]"
    offline = "✓" if e.offline else ""
    if wide:
        return [name, format_params(e.params), e.tier, format_ctx(e.context_length),
                e.licence, *sizes, fit, offline, escape(_use(e))]
    cell = f"[bold]{name}[/]\n[dim]{e.tier} · {escape(e.licence)}[/]\n{escape(_use(e))}"
    return [cell, format_params(e.params), format_ctx(e.context_length), *sizes, fit, offline]


def _use(e) -> str:
    """What a model is for, and what it can do in Korean where the catalog says."""
    return f"{e.use} Korean: {e.korean}" if e.korean else e.use


def plain_table(hw, candidates, quants, args) -> str:
    """The catalog for a file or a pipe: space-aligned columns, one line per model."""
    from slmkit.models import catalog, hardware

    head = ["name", "params", "tier", "ctx", "licence", *quants, f"fits_{args.quant}",
            "offline", "use"]
    rows = [head]
    for c in candidates:
        e = c.entry
        sizes = [format_bytes(catalog.estimate_memory(e, q, args.ctx).total).replace(" ", "")
                 for q in quants]
        name = (f"{e.name}*" if e.default else e.name) + ("" if e.kind == "llm" else f"({e.kind})")
        rows.append([name, format_params(e.params), e.tier, format_ctx(e.context_length),
                     e.licence.replace(" ", "_"), *sizes, "yes" if c.fits else "no",
                     "yes" if e.offline else "no", _use(e)])
    widths = [max(len(r[i]) for r in rows) for i in range(len(head) - 1)]
    lines = [hardware.summary(hw)]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths)) + "  " + r[-1] for r in rows]
    lines.append(f"* default model: {catalog.default_model().name}")
    return "\n".join(lines)

