"""Distillation data: training rows from text or (prompt, answer) pairs, prompts for
sequence-level distillation, and the teacher's answers through llama.cpp."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from slmkit.compress.train_io import CompressError


@dataclass
class Examples:
    """Training rows: input ids [n, L], attention mask, labels (-100 = no loss)."""

    input_ids: object
    attention_mask: object
    labels: object

    def __len__(self) -> int:
        return int(self.input_ids.shape[0])

    def take(self, idx) -> tuple:
        return self.input_ids[idx], self.attention_mask[idx], self.labels[idx]

    def split(self, n_eval: int) -> tuple[Examples, Examples]:
        n = len(self)
        if n - n_eval < 1:
            raise CompressError(f"only {n} training rows: not enough to hold {n_eval} apart",
                                hint="give more data, a smaller --seq-len or --eval-rows")
        a, b = slice(0, n - n_eval), slice(n - n_eval, n)
        return (Examples(*(t[a] for t in self.take(slice(None)))),
                Examples(*(t[b] for t in self.take(slice(None)))))


def text_examples(tokenizer, text: str, seq_len: int) -> Examples:
    import torch

    from slmkit.compress.train_io import token_batches

    ids = token_batches(tokenizer, text, seq_len=seq_len)
    return Examples(ids, torch.ones_like(ids), ids.clone())


def chat_examples(tokenizer, pairs: list[tuple[str, str]], seq_len: int) -> Examples:
    """(prompt, answer) pairs rendered with the student's chat template; loss on the answer
    tokens only; right-padded to the longest (≤ seq_len)."""
    import torch

    rows, starts = [], []
    for prompt, answer in pairs:
        user = [{"role": "user", "content": prompt}]
        head = _ids(tokenizer.apply_chat_template(user, add_generation_prompt=True,
                                                  tokenize=True))
        full = _ids(tokenizer.apply_chat_template(
            user + [{"role": "assistant", "content": answer}], tokenize=True))
        if full[:len(head)] != head:  # the template re-rendered the prompt differently
            full = head + tokenizer(answer, add_special_tokens=False).input_ids
        rows.append(full[:seq_len])
        starts.append(min(len(head), seq_len))
    width = max(len(r) for r in rows)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    mask = torch.zeros_like(ids)
    labels = torch.full_like(ids, -100)
    for i, (r, s) in enumerate(zip(rows, starts)):
        ids[i, :len(r)] = torch.tensor(r)
        mask[i, :len(r)] = 1
        labels[i, s:len(r)] = ids[i, s:len(r)]
    return Examples(ids, mask, labels)


def _ids(rendered):
    if hasattr(rendered, "keys") and "input_ids" in rendered:  # BatchEncoding
        rendered = rendered["input_ids"]
    return list(rendered)


def prompts_from(spec: str, *, limit: int | None = None) -> list[str]:
    """Prompts for sequence-level KD: one per line of a .txt file, one per record of a
    .jsonl/.csv (``prompt``, ``question``, ``instruction`` or ``text`` field)."""
    from slmkit.evaluate import datasets

    ds = datasets.resolve(spec, kind="text")
    if ds.path.suffix.lower() in (".jsonl", ".json", ".csv"):
        key = _prompt_key(ds)
        out = [p.strip() for p in datasets.load_texts(ds, field_name=key) if p.strip()]
    else:
        out = [line.strip() for line in ds.path.read_text(encoding="utf-8").splitlines()
               if line.strip()]
    if not out:
        raise CompressError(f"no prompts in {spec}", hint="one prompt per line (.txt) or a "
                            "`prompt` field per record (.jsonl)")
    return out[:limit] if limit else out


def _prompt_key(ds) -> str | None:
    if ds.path.suffix.lower() != ".jsonl":
        return None
    first = next((json.loads(line) for line in ds.path.read_text(encoding="utf-8").splitlines()
                  if line.strip()), {})
    return next((k for k in ("prompt", "question", "instruction", "text") if k in first), None)


def teacher_answers(teacher_gguf: str, prompts: list[str], *, max_new_tokens: int,
                    n_threads: int = 0, progress: Callable[[int, int], None] | None = None
                    ) -> list[tuple[str, str]]:
    """Greedy teacher answers through llama.cpp (continuous batching does the rest)."""
    from slmkit.core.types import GREEDY, ChatMessage, GenerateRequest, collect
    from slmkit.runtime import load_engine

    engine = load_engine(teacher_gguf, n_ctx=2048, n_threads=n_threads)
    out = []
    try:
        for i, p in enumerate(prompts):
            done = collect(engine.generate(GenerateRequest(
                messages=[ChatMessage("user", p)], max_tokens=max_new_tokens,
                sampling=GREEDY)))
            if done.text.strip():
                out.append((p, done.text.strip()))
            if progress:
                progress(i + 1, len(prompts))
    finally:
        engine.close()
    return out
