"""What leaves for an upstream, masked: besides the messages (the guard masks their text
and names), a request's JSON schema carries data of its own: ``enum``/``const``/``default``
/``examples`` values, ``description``/``title`` text and property names, often copied from
the conversation or from tool definitions. Every string in it, keys included, passes the
guard. Masking is consistent (one vault), so ``required`` still names the masked
properties, and an ``enum`` value the upstream answers with comes back unmasked with the
rest of the answer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

MAX_DEPTH = 64


def mask_json(value: Any, protect: Callable[[str, str], Any], where: str = "json_schema",
              *, depth: int = 0) -> tuple[Any, set[str]]:
    """``value`` with every string (dict keys too) replaced by ``protect(text, where).text``;
    also the keep-local types found. Numbers, booleans and null pass unchanged."""
    if depth > MAX_DEPTH:
        raise ValueError(f"{where}: nested deeper than {MAX_DEPTH} levels")
    local: set[str] = set()

    def one(text: str, at: str) -> str:
        p = protect(text, at)
        local.update(p.keep_local)
        return p.text

    if isinstance(value, str):
        return one(value, where), local
    if isinstance(value, dict):
        out = {}
        for n, (k, v) in enumerate(value.items()):  # "where" by position: keys may be data
            key = one(k, f"{where}.key[{n}]") if isinstance(k, str) else k
            out[key], inner = mask_json(v, protect, f"{where}.value[{n}]", depth=depth + 1)
            local |= inner
        return out, local
    if isinstance(value, (list, tuple)):
        items = []
        for i, v in enumerate(value):
            item, inner = mask_json(v, protect, f"{where}[{i}]", depth=depth + 1)
            items.append(item)
            local |= inner
        return items, local
    return value, local
