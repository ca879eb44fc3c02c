"""Text and sequence helpers."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any


def common_prefix(a: Sequence, b: Sequence) -> int:
    """Length of the longest common prefix of two sequences (e.g. token lists)."""
    n, i = min(len(a), len(b)), 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


def format_bytes(n: float | None) -> str:
    """Bytes as people read them, in decimal units: ``512 B``, ``98.4 MB``, ``14.7 GB``;
    ``-`` for None."""
    if n is None:
        return "-"
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return ""  # unreachable


def format_memory(n: int) -> str:
    """Memory sizes at a glance: ``0.1 GB``, ``14.3 GB``; under 0.1 GB in MB (``45 MB``).
    Decimal units."""
    return f"{n / 1e6:.0f} MB" if n < 100_000_000 else f"{n / 1e9:.1f} GB"


def format_params(n: int | None) -> str:
    """Parameter counts as people say them: ``135M``, ``1.5B`` (999.9M shows as ``1.0B``),
    ``80K``; ``-`` when unknown."""
    if not n:
        return "-"
    if n >= 999_500_000:
        return f"{n / 1e9:.1f}B"
    return f"{n / 1e6:.0f}M" if n >= 1e6 else f"{n / 1e3:.0f}K"


def format_ctx(n: int) -> str:
    """Context lengths: ``8K``, ``128K``; small or odd ones as the plain number."""
    return f"{n // 1024}K" if n >= 1024 and n % 1024 == 0 else str(n)


def to_jsonable(obj: Any) -> Any:
    """``obj`` as plain JSON values: dataclasses and ``to_dict()`` objects as dicts, tuples
    as lists, keys as strings."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {k: to_jsonable(v) for k, v in dataclasses.asdict(obj).items()}
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if hasattr(obj, "to_dict"):
        return to_jsonable(obj.to_dict())
    return obj
