"""Bedrock's on-demand prices per token, for the routing cost ledger.

USD per million tokens (input, output), us-east-1 on-demand list prices as published by
AWS in 2025 — defaults only: prices differ by region, change over time, and batch or
provisioned throughput cost otherwise. Override them with a JSON file
``{"model id": [input, output], ...}`` named by the setting ``aws.bedrock_prices``
(``SLM_BEDROCK_PRICES``); ``slm serve --prices FILE`` overrides both. Keys are model ids
without the ``bedrock:`` prefix; a cross-region inference profile (``us.…``, ``eu.…``,
``global.…``) costs what its model costs.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from slmkit.core.errors import SlmError

PREFIX = "bedrock:"
BEDROCK_PRICES: dict[str, tuple[float, float]] = {
    "anthropic.claude-3-5-haiku": (0.80, 4.00),
    "anthropic.claude-3-5-sonnet": (3.00, 15.00),
    "anthropic.claude-3-7-sonnet": (3.00, 15.00),
    "anthropic.claude-3-haiku": (0.25, 1.25),
    "anthropic.claude-sonnet-4": (3.00, 15.00),
    "anthropic.claude-haiku-4-5": (1.00, 5.00),
    "anthropic.claude-opus-4": (15.00, 75.00),
    "amazon.nova-micro": (0.035, 0.14),
    "amazon.nova-lite": (0.06, 0.24),
    "amazon.nova-pro": (0.80, 3.20),
    "meta.llama3-1-8b-instruct": (0.22, 0.22),
    "meta.llama3-1-70b-instruct": (0.72, 0.72),
    "meta.llama3-3-70b-instruct": (0.72, 0.72),
    "mistral.mistral-large-2407": (2.00, 6.00),
    "cohere.command-r-plus": (3.00, 15.00),
}
PROFILES = ("us", "eu", "apac", "us-gov", "jp", "au", "ca", "global")  # inference profiles
_PROFILE = re.compile(r"^(?:" + "|".join(PROFILES) + r")\.")


def model_key(model_id: str) -> str:
    """The price key of a model id: without ``bedrock:`` and an inference-profile prefix."""
    if model_id.startswith(PREFIX):
        model_id = model_id[len(PREFIX):]
    return _PROFILE.sub("", model_id)


def load_prices(path: str | os.PathLike | None = None) -> dict[str, tuple[float, float]]:
    """The Bedrock price table keyed as the ledger names models (``bedrock:<model id>``,
    also under each inference-profile prefix): the defaults above, then ``path``
    (default: the ``aws.bedrock_prices`` setting). Lookups match the longest key that
    prefixes a model id, so ``anthropic.claude-3-5-haiku`` prices every version of it."""
    from slmkit.settings import get_settings

    prices = dict(BEDROCK_PRICES)
    path = path or get_settings().bedrock_prices
    if path:
        prices.update(read_price_file(Path(path)))
    out = {}
    for key, price in prices.items():
        key = model_key(key)
        out.update({PREFIX + p + key: price for p in ("", *(f"{g}." for g in PROFILES))})
    return out


def read_price_file(path: Path) -> dict[str, tuple[float, float]]:
    """``{"model id": [input, output]}`` USD per 1M tokens from a JSON file, checked."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return {str(k): (float(v[0]), float(v[1])) for k, v in data.items()}
    except FileNotFoundError:
        raise SlmError(f"Bedrock price file {path} not found",
                       hint="fix the aws.bedrock_prices setting (SLM_BEDROCK_PRICES)") from None
    except (ValueError, TypeError, IndexError, KeyError, AttributeError):
        raise SlmError(f"Bedrock price file {path} is not {{\"model id\": [input, output]}}",
                       hint="prices are USD per million tokens, e.g. "
                            "{\"anthropic.claude-3-5-haiku\": [0.8, 4.0]}") from None
