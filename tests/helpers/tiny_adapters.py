"""Helpers for the adapt tests: jsonl files and short LoRA trainings on tiny models."""

from __future__ import annotations

import json
from pathlib import Path


def write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


PAIRS = [("The quick brown fox", "jumps over the lazy dog."),
         ("Paris is the capital of", "France, and Berlin is the capital of Germany."),
         ("Once upon a time", "there was a small town by a river."),
         ("Small language models", "run on laptops and edge boxes.")]


def train_adapter(tiny, out: Path, *, seed: int, steps: int = 4, data: str = "data",
                  **overrides):
    from slmkit.adapt.lora import LoraSettings
    from slmkit.adapt.train import TrainConfig, finetune

    lora = overrides.pop("lora", LoraSettings(rank=4, alpha=8.0, dropout=0.0))
    cfg = TrainConfig(output=str(out), max_steps=steps, lr=overrides.pop("lr", 2e-2),
                      seed=seed, lora=lora, batch_size=4, schedule="constant", warmup=0.0,
                      **overrides)
    return finetune(str(tiny["hf"]), str(tiny[data]), cfg)
