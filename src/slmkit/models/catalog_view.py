"""The catalog for people: a rich table on a terminal (wide or folded to its width), plain
space-aligned lines for a file or a pipe. :func:`slmkit.models.catalog.survey` picks the
rows; this module only lays them out."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from slmkit.core.options import Done, opt, positive_int
from slmkit.models import catalog, hardware
from slmkit.util.text import format_ctx, format_params
from slmkit.util.text import format_memory as format_bytes

SHOWN_QUANTS: tuple[str, ...] = ("F16", "Q8_0", "Q4_K_M")
WIDE_TABLE_COLUMNS = 150  # below this, tier/licence/use move into the name cell


def shown_quants(quant: str) -> tuple[str, ...]:
    """The memory columns: F16, Q8_0, Q4_K_M, plus ``quant`` when it is another."""
    return SHOWN_QUANTS if quant in SHOWN_QUANTS else (*SHOWN_QUANTS, quant)


def print_survey(console, hw, candidates, quant: str, n_ctx: int) -> None:
    """Print the survey on ``console`` (rich); plain lines when it is not a terminal."""
    quants = shown_quants(quant)
    if not console.is_terminal:  # a file or a pipe: one line per model, never wrapped
        print(plain_table(hw, candidates, quants, quant, n_ctx))
        return
    console.print(hardware.summary(hw), highlight=False)
    budget = catalog.memory_budget(hw)
    console.print(
        f"[dim]memory at ctx {n_ctx}: weights + f16 KV cache + compute buffer; "
        f"'fits' = {quant} within {1 - catalog.DEFAULT_HEADROOM:.0%} of "
        f"{budget.label}[/]", highlight=False)
    wide = console.width >= WIDE_TABLE_COLUMNS
    console.print(rich_table(candidates, quants, quant, n_ctx, wide))
    default = catalog.default_model().name
    shown = any(c.entry.default for c in candidates)
    console.print(f"* default model: {default}" + ("" if shown else " (filtered out)"),
                  highlight=False)
    if not candidates:
        console.print("[yellow]no model matches; try a smaller --ctx, a smaller --quant "
                      "or leave out --fits[/]")


def rich_table(candidates, quants, quant: str, n_ctx: int, wide: bool):
    """A rich Table; ``wide``: tier, licence and use get their own columns."""
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
    table.add_column(f"fits {quant}" if wide else "fits", justify="center")
    table.add_column("offline", justify="center")
    if wide:
        table.add_column("use", overflow="fold", min_width=24)
    for c in candidates:
        table.add_row(*_row(c, quants, n_ctx, wide))
    return table


def _row(c, quants, n_ctx, wide: bool) -> list[str]:
    from rich.markup import escape

    e = c.entry
    sizes = [format_bytes(catalog.estimate_memory(e, q, n_ctx).total) for q in quants]
    name = f"{e.name} *" if e.default else e.name
    if e.kind != "llm":
        name += f" ({e.kind})"
    fit = "[green]✓[/]" if c.fits else "[red]✗[/]"
    offline = "✓" if e.offline else ""
    if wide:
        return [name, format_params(e.params), e.tier, format_ctx(e.context_length),
                e.licence, *sizes, fit, offline, escape(use_text(e))]
    cell = f"[bold]{name}[/]\n[dim]{e.tier} · {escape(e.licence)}[/]\n{escape(use_text(e))}"
    return [cell, format_params(e.params), format_ctx(e.context_length), *sizes, fit, offline]


def use_text(e) -> str:
    """What a model is for, and what it can do in Korean where the catalog says."""
    return f"{e.use} Korean: {e.korean}" if e.korean else e.use


def plain_table(hw, candidates, quants, quant: str, n_ctx: int) -> str:
    """The catalog for a file or a pipe: space-aligned columns, one line per model."""
    head = ["name", "params", "tier", "ctx", "licence", *quants, f"fits_{quant}",
            "offline", "use"]
    rows = [head]
    for c in candidates:
        e = c.entry
        sizes = [format_bytes(catalog.estimate_memory(e, q, n_ctx).total).replace(" ", "")
                 for q in quants]
        name = (f"{e.name}*" if e.default else e.name) + ("" if e.kind == "llm" else f"({e.kind})")
        rows.append([name, format_params(e.params), e.tier, format_ctx(e.context_length),
                     e.licence.replace(" ", "_"), *sizes, "yes" if c.fits else "no",
                     "yes" if e.offline else "no", use_text(e)])
    widths = [max(len(r[i]) for r in rows) for i in range(len(head) - 1)]
    lines = [hardware.summary(hw)]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths)) + "  " + r[-1] for r in rows]
    lines.append(f"* default model: {catalog.default_model().name}")
    return "\n".join(lines)


def _quant(text: str) -> str:
    try:
        return catalog.normalize_quant(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


@dataclass
class CatalogRequest:
    """`slm catalog`: the survey (:func:`slmkit.models.catalog.survey`) for this machine."""

    fits: bool = opt(False, "only models whose --quant at --ctx fits this machine")
    ctx: int = opt(4096, "context length to size the KV cache for", metavar="N",
                   type=positive_int)
    quant: str = opt("Q4_K_M", "quantization for the fit test "
                               f"({', '.join(catalog.BITS_PER_WEIGHT)})", metavar="Q",
                     type=_quant)
    tier: str | None = opt(None, "only micro (<1B), small (1-7B) or medium (7-15B) models",
                           choices=catalog.TIER_NAMES)

    def run(self, progress=None) -> Done:
        hw = hardware.probe()
        found = catalog.survey(hw, quant=self.quant, n_ctx=self.ctx, tier=self.tier,
                               only_fitting=self.fits)
        report = catalog.survey_report(hw, found, shown_quants(self.quant), quant=self.quant,
                                       n_ctx=self.ctx, tier=self.tier, only_fitting=self.fits)
        return Done(report, lambda con: print_survey(con, hw, found, self.quant, self.ctx))
