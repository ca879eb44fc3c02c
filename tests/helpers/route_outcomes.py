"""Synthetic routing outcomes for the prompt-router tests: three kinds of prompt — the
small model copes; only the big one does; neither does."""

from __future__ import annotations

import json
import random

import numpy as np

from slmkit.route import outcomes

EASY = ["say hello to {}", "greet {} warmly", "wish {} good morning", "thank {} kindly"]
GAIN = ["translate the contract clause about {} into formal german",
        "summarize the legal brief on {} in two sentences",
        "explain the tax treatment of {} for a small company"]
NEITHER = ["predict the lottery numbers for {} next week",
           "tell me what {} is thinking right now"]
NAMES = ["anna", "bruno", "chen", "dara", "emil", "farah", "goran", "hana", "ivo", "jun"]


def make(n: int, seed: int = 0) -> outcomes.Outcomes:
    r = random.Random(seed)
    prompts, weak, strong = [], [], []
    for _ in range(n):
        kind = r.choice((EASY, GAIN, NEITHER))
        prompts.append(r.choice(kind).format(r.choice(NAMES)))
        weak.append(kind is EASY)
        strong.append(kind is not NEITHER)
    return outcomes.Outcomes(prompts, np.array(weak), np.array(strong))


def write(path, o: outcomes.Outcomes) -> str:
    with open(path, "w", encoding="utf-8") as f:
        for p, w, s in zip(o.prompts, o.weak_ok, o.strong_ok):
            f.write(json.dumps({"prompt": p, "weak_ok": bool(w), "strong_ok": bool(s)}) + "\n")
    return str(path)
