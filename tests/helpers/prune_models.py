"""Tiny random models and calibration text for the prune / distill tests."""

from __future__ import annotations

from pathlib import Path

from helpers.tiny_models import CORPUS, build_model


def calibration_text() -> str:
    """A few hundred tokens of varied text (the tiny tokenizer's corpus, shuffled)."""
    import random

    rng = random.Random(0)
    lines = list(CORPUS)
    rng.shuffle(lines)
    return "\n".join(lines)


def tiny_setup(root: Path, arch: str = "llama", **kw) -> tuple[Path, Path]:
    """(HF dir of a tiny random model, calibration .txt file) under ``root``."""
    model = build_model(root / f"{arch}-model", arch, **kw)
    data = root / "calib.txt"
    if not data.exists():
        data.write_text(calibration_text(), encoding="utf-8")
    return model, data
