"""Before/after measurements of a fine-tune on held-apart examples, through any Engine.

- ``answer_ppl``: perplexity of the reference answers given their context (the quantity
  training lowers), from ``token_logprobs`` — any ``core.Engine``;
- ``exact_match``: greedy answers compared with the references after whitespace
  normalisation (task accuracy for fixed-format tasks such as labels);
- ``text_ppl``: ``evaluate.perplexity`` (llama.cpp's protocol) over the rendered examples.

An engine with an adapter applied (``LlamaCppEngine.with_adapter``) is measured the same way.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from slmkit.adapt.data import Record
from slmkit.core.types import GREEDY, GenerateRequest, collect


def _norm(text: str) -> str:
    return " ".join(text.split()).strip().lower()


def answer_tokens(engine, record: Record) -> tuple[list[int], int]:
    """(tokens of context + answer, index of the first answer token), cut where training
    cuts: the context as the engine prompts it, the answer text tokenized on its own."""
    context = engine.prompt_tokens(GenerateRequest(messages=list(record.messages[:-1])))
    head = engine.render_chat(record.messages[:-1], add_generation_prompt=True)
    full = engine.render_chat(record.messages, add_generation_prompt=False)
    answer = engine.tokenize(full[len(head):], add_special=False)
    return context + answer, len(context)


def answer_ppl(engine, records: Sequence[Record]) -> dict:
    """exp(mean NLL) of the answer tokens (the answer and its end-of-turn token)."""
    from slmkit.evaluate.scoring import target_logprobs

    nll, n = 0.0, 0
    for rec in records:
        tokens, start = answer_tokens(engine, rec)
        logp = target_logprobs(engine, tokens, start - 1)  # only the answer rows
        nll -= float(logp.sum())
        n += len(logp)
    return {"answer_ppl": math.exp(nll / n) if n else float("nan"), "answer_tokens": n}


def exact_match(engine, records: Sequence[Record], *, max_tokens: int = 48,
                progress: Callable[[int, int], None] | None = None) -> dict:
    """Greedy answers vs. the references; accuracy and a few examples."""
    correct, shown = 0, []
    for i, rec in enumerate(records):
        want = rec.messages[-1].content
        out = collect(engine.generate(GenerateRequest(messages=list(rec.messages[:-1]),
                                                      max_tokens=max_tokens,
                                                      sampling=GREEDY))).text
        ok = _norm(out) == _norm(want)
        correct += ok
        if len(shown) < 3:
            shown.append({"line": rec.line, "expected": want, "got": out.strip()[:200]})
        if progress:
            progress(i + 1, len(records))
    n = len(records)
    acc = correct / n if n else 0.0
    return {"accuracy": acc, "accuracy_se": math.sqrt(acc * (1 - acc) / n) if n else 0.0,
            "n": n, "correct": correct, "examples": shown}


def text_ppl(engine, records: Sequence[Record], *, chunk: int = 256) -> dict:
    """llama.cpp-protocol perplexity over the rendered examples joined together."""
    from slmkit.evaluate.perplexity import perplexity

    text = "".join(engine.render_chat(r.messages, add_generation_prompt=False)
                   for r in records)
    return perplexity(engine, text, chunk=chunk).to_dict()


def measure(engine, records: Sequence[Record], *, generate: bool = True,
            ppl_chunk: int = 256, max_tokens: int | None = None) -> dict:
    """Answer PPL, exact-match accuracy and task-text PPL. ``max_tokens`` defaults to a
    few tokens more than the longest reference answer: a longer output cannot match."""
    out = {**answer_ppl(engine, records)}
    if generate:
        if max_tokens is None:
            longest = max(len(engine.tokenize(r.messages[-1].content, add_special=False))
                          for r in records)
            max_tokens = longest + 4
        out.update(exact_match(engine, records, max_tokens=max_tokens))
    try:
        out["text_ppl"] = text_ppl(engine, records, chunk=ppl_chunk)["ppl"]
    except (ValueError, ZeroDivisionError):
        out["text_ppl"] = None  # fewer tokens than one chunk
    return out
