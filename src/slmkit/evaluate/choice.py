"""Multiple-choice accuracy by log-likelihood, with an MMLU-style prompt.

``letter`` mode (MMLU's own protocol): the question and its lettered choices, then
``Answer:``; the model's choice is the letter (`` A``, `` B``, …) it gives the highest
probability — one forward pass per question. ``text`` mode: ``Question: …\\nAnswer:``
followed by each choice's text; the choice with the highest total log-likelihood wins
(for questions whose options are not lettered). ``shots`` solved examples, the first
items of the set (and left out of the scored ones), come before every question; the
shared prefix lets the engines reuse their KV cache. Accuracy comes with its standard
error ``sqrt(acc·(1-acc)/n)``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from slmkit.evaluate.datasets import LETTERS, ChoiceItem
from slmkit.evaluate.scoring import has_logits, log_softmax, logits, target_logprobs

ProgressFn = Callable[[str, int, int], None]
MODES = ("letter", "text")


@dataclass
class ChoiceResult:
    accuracy: float
    accuracy_se: float
    n: int
    correct: int
    shots: int
    mode: str
    chance: float
    seconds: float
    predictions: list[int] = field(default_factory=list, repr=False)

    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop("predictions")
        return d


def header(subject: str = "") -> str:
    about = f" about {subject.replace('_', ' ')}" if subject else ""
    return f"The following are multiple choice questions (with answers){about}.\n\n"


def format_question(item: ChoiceItem, *, mode: str = "letter", answer: bool = False) -> str:
    if mode == "text":
        out = f"Question: {item.question}\nAnswer:"
        return out + (f" {item.choices[item.answer]}\n\n" if answer else "")
    lines = [item.question] + [f"{LETTERS[i]}. {c}" for i, c in enumerate(item.choices)]
    out = "\n".join(lines) + "\nAnswer:"
    return out + (f" {LETTERS[item.answer]}\n\n" if answer else "")


def build_prompt(item: ChoiceItem, shots: Sequence[ChoiceItem], mode: str = "letter") -> str:
    head = header(item.subject) if mode == "letter" else ""
    return head + "".join(format_question(s, mode=mode, answer=True) for s in shots) \
        + format_question(item, mode=mode)


def continuations(engine, item: ChoiceItem, mode: str) -> list[list[int]]:
    """The token ids each choice adds after the prompt (`` A`` or `` <choice text>``)."""
    texts = [f" {LETTERS[i]}" for i in range(len(item.choices))] if mode == "letter" \
        else [f" {c}" for c in item.choices]
    return [engine.tokenize(t, add_special=False) for t in texts]


def score_item(engine, item: ChoiceItem, shots: Sequence[ChoiceItem], mode: str) -> np.ndarray:
    """Log-likelihood of each choice given the prompt (float64 [n_choices])."""
    prompt = engine.tokenize(build_prompt(item, shots, mode), add_special=True)
    conts = continuations(engine, item, mode)
    if has_logits(engine) and all(len(c) == 1 for c in conts):
        logp = log_softmax(logits(engine, prompt, len(prompt) - 1))[0]
        return np.array([logp[c[0]] for c in conts])
    return np.array([target_logprobs(engine, prompt + c, len(prompt) - 1).sum() for c in conts])


def choice_accuracy(engine, items: Sequence[ChoiceItem], *, shots: int = 0,
                    limit: int | None = None, mode: str = "letter",
                    progress: ProgressFn | None = None) -> ChoiceResult:
    """Accuracy of ``engine`` on ``items`` (the first ``shots`` serve as examples)."""
    examples, scored = split(items, shots, limit, mode)
    t0 = time.perf_counter()
    preds = predict(engine, scored, examples, mode, progress, label=f"choice ({shots}-shot)")
    return result(preds, scored, shots, mode, time.perf_counter() - t0)


def split(items: Sequence[ChoiceItem], shots: int, limit: int | None,
          mode: str) -> tuple[list[ChoiceItem], list[ChoiceItem]]:
    """(the solved examples, the items to score), after checking ``shots`` and ``mode``."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if shots < 0 or shots >= len(items):
        raise ValueError(f"shots must be in [0, {len(items)}), got {shots}")
    scored = list(items[shots:])
    return list(items[:shots]), scored[:limit] if limit is not None else scored


def predict(engine, scored: Sequence[ChoiceItem], examples: Sequence[ChoiceItem], mode: str,
            progress: ProgressFn | None = None, label: str = "choice") -> list[int]:
    """The index of the choice ``engine`` prefers, per item."""
    preds = []
    for i, item in enumerate(scored):
        preds.append(int(np.argmax(score_item(engine, item, examples, mode))))
        if progress:
            progress(label, i + 1, len(scored))
    return preds


def result(preds: Sequence[int], scored: Sequence[ChoiceItem], shots: int, mode: str,
           seconds: float) -> ChoiceResult:
    """Accuracy, its standard error and chance level from the predictions."""
    correct = sum(p == it.answer for p, it in zip(preds, scored))
    n = len(scored)
    acc = correct / n if n else 0.0
    chance = float(np.mean([1 / len(it.choices) for it in scored])) if n else 0.0
    return ChoiceResult(acc, math.sqrt(acc * (1 - acc) / n) if n else 0.0, n, correct, shots,
                        mode, chance, seconds, list(preds))
