"""Past routing outcomes, one JSON line each, as `slm route train` reads them.

A line names the prompt and what happened to it, in one of three forms (the richest wins):

- ``{"prompt": "...", "weak_ok": true, "strong_ok": false}`` — both models' results (also
  spelled ``local_correct`` / ``remote_correct``; `slm route eval --outcomes` writes these);
- ``{"prompt": "...", "local_correct": false}`` — only the local model's: the remote one is
  taken to be right;
- ``{"prompt": "...", "hard": true}`` — RouteLLM's label (the strong model right where the
  weak one is wrong): read as ``weak_ok = not hard``, ``strong_ok = true``.

With the last two forms the expected gain of escalating is exactly the chance the prompt
is hard, so every router reads all three alike. Optional ``"set"``: the task the prompt
belongs to (reported per set, never used to decide).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np

PAIRS = (("weak_ok", "strong_ok"), ("local_correct", "remote_correct"))


@dataclass
class Outcomes:
    """Prompts with the weak (local) and strong (remote) model's results."""

    prompts: list[str]
    weak_ok: np.ndarray  # bool
    strong_ok: np.ndarray  # bool
    sets: list[str] = field(default_factory=list)

    @property
    def hard(self) -> np.ndarray:
        """RouteLLM's label: the strong model right where the weak one is wrong."""
        return self.strong_ok & ~self.weak_ok

    def __len__(self) -> int:
        return len(self.prompts)


def _labels(rec: dict) -> tuple[bool, bool] | None:
    for weak, strong in PAIRS:
        if isinstance(rec.get(weak), bool):
            s = rec.get(strong)
            return rec[weak], s if isinstance(s, bool) else True
    if isinstance(rec.get("hard"), bool):
        return not rec["hard"], True
    return None


def read(path: str) -> Outcomes:
    """The outcomes in a JSONL file; a bad line is an error naming its number."""
    prompts, weak, strong, sets = [], [], [], []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as err:
                raise ValueError(f"{path}:{n}: not JSON ({err.msg})") from None
            if not isinstance(rec, dict) or not isinstance(rec.get("prompt"), str):
                raise ValueError(f'{path}:{n}: needs a "prompt" string')
            labels = _labels(rec)
            if labels is None:
                raise ValueError(f'{path}:{n}: needs "hard" or "local_correct" (true/false), '
                                 f'or "weak_ok" and "strong_ok"')
            prompts.append(rec["prompt"])
            weak.append(labels[0])
            strong.append(labels[1])
            sets.append(str(rec.get("set", "")))
    if not prompts:
        raise ValueError(f"{path} holds no outcomes")
    return Outcomes(prompts, np.array(weak, bool), np.array(strong, bool), sets)
