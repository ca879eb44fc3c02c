"""`slm catalog`: known small models, their memory at F16 / Q8_0 / Q4_K_M, what fits here.

Maps arguments onto :func:`slmkit.models.catalog.survey`; :mod:`slmkit.models.catalog_view`
lays out the table.
"""

from __future__ import annotations

import argparse

from slmkit.cli.args import Opt, json_option, options, positive_int


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
    from slmkit.cli.output import print_json, stdout_console
    from slmkit.models import catalog, catalog_view, hardware

    hw = hardware.probe()
    candidates = catalog.survey(hw, quant=args.quant, n_ctx=args.ctx, tier=args.tier,
                                only_fitting=args.fits)
    if args.json:
        return print_json(catalog.survey_report(
            hw, candidates, catalog_view.shown_quants(args.quant), quant=args.quant,
            n_ctx=args.ctx, tier=args.tier, only_fitting=args.fits))
    catalog_view.print_survey(stdout_console(), hw, candidates, args.quant, args.ctx)
    return 0


def _quant(text: str) -> str:
    from slmkit.models.catalog import normalize_quant

    try:
        return normalize_quant(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
