"""Training data: jsonl examples → token ids with labels on the answer tokens only.

Two record forms, one per line:

- chat: ``{"messages": [{"role": "system"|"user"|"assistant", "content": "..."}, ...]}``
  — every assistant turn is learned, everything else is context;
- instruction: ``{"prompt": "...", "completion": "...", "system": "..." (optional)}``.

Each example is rendered with the model's own chat template (the one llama.cpp applies at
inference, so training and serving see the same text). The labelled spans are found by
rendering the conversation up to each assistant turn with the generation prompt (the
context) and up to the end of that turn (context + answer + end-of-turn token); the text
is tokenized piece by piece at those boundaries, so a label never straddles a token.

Problems are reported with line numbers: bad JSON, missing or empty fields, an empty
file. Examples longer than ``max_seq_len`` are skipped, counted and listed — never
dropped silently.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from slmkit.core.errors import SlmError
from slmkit.core.types import ROLES, ChatMessage

IGNORE = -100  # label of a token the loss skips (torch's cross_entropy ignore_index)
MAX_LISTED = 10  # problems listed in one error message


class DataError(SlmError):
    """Training data that cannot be used as given (the message names the lines)."""

    code = "bad_training_data"


@dataclass(frozen=True)
class Record:
    line: int
    messages: tuple[ChatMessage, ...]


@dataclass
class Example:
    line: int
    input_ids: list[int]
    labels: list[int]  # IGNORE outside the answers

    @property
    def n_answer(self) -> int:
        return sum(1 for t in self.labels if t != IGNORE)


@dataclass
class EncodedData:
    path: str
    examples: list[Example]
    n_records: int
    too_long: list[tuple[int, int]] = field(default_factory=list)  # (line, tokens)
    max_seq_len: int = 0

    @property
    def n_tokens(self) -> int:
        return sum(len(e.input_ids) for e in self.examples)

    @property
    def n_answer_tokens(self) -> int:
        return sum(e.n_answer for e in self.examples)

    def summary(self) -> dict:
        return {"path": self.path, "records": self.n_records, "examples": len(self.examples),
                "tokens": self.n_tokens, "answer_tokens": self.n_answer_tokens,
                "skipped_too_long": len(self.too_long),
                "too_long_lines": [ln for ln, _ in self.too_long[:MAX_LISTED]]}

    def warning(self) -> str | None:
        if not self.too_long:
            return None
        shown = ", ".join(f"line {ln} ({n} tokens)" for ln, n in self.too_long[:MAX_LISTED])
        more = f" and {len(self.too_long) - MAX_LISTED} more" if len(self.too_long) > MAX_LISTED \
            else ""
        return (f"{self.path}: skipped {len(self.too_long)} of {self.n_records} examples longer "
                f"than --max-seq-len {self.max_seq_len}: {shown}{more}")


# ---- reading ------------------------------------------------------------------------------

def read_records(path: str | Path) -> list[Record]:
    """Parse and validate a jsonl file; raise :class:`DataError` listing every bad line."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"no such data file: {path}")
    records, problems = [], []
    with open(path, encoding="utf-8") as f:
        for line_no, raw in enumerate(f, start=1):
            if not raw.strip():
                continue
            try:
                records.append(Record(line_no, _messages(json.loads(raw))))
            except json.JSONDecodeError as err:
                problems.append(f"line {line_no}: not valid JSON ({err.msg})")
            except ValueError as err:
                problems.append(f"line {line_no}: {err}")
    if problems:
        listed = "\n  ".join(problems[:MAX_LISTED])
        more = f"\n  … and {len(problems) - MAX_LISTED} more" if len(problems) > MAX_LISTED \
            else ""
        raise DataError(f"{path}: {len(problems)} bad record(s):\n  {listed}{more}",
                        hint='each line needs {"messages": [...]} ending with an assistant '
                             'turn, or {"prompt": "...", "completion": "..."}')
    if not records:
        raise DataError(f"{path} holds no examples (the file is empty)",
                        hint="write one JSON object per line")
    return records


def _messages(obj) -> tuple[ChatMessage, ...]:
    if not isinstance(obj, dict):
        raise ValueError("expected a JSON object")
    if "messages" in obj:
        return _chat(obj["messages"])
    missing = [k for k in ("prompt", "completion") if k not in obj]
    if missing:
        raise ValueError(f"missing field(s) {', '.join(repr(k) for k in missing)} "
                         "(or give 'messages')")
    prompt, completion, system = obj["prompt"], obj["completion"], obj.get("system")
    for key, value in (("prompt", prompt), ("completion", completion)):
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"{key!r} must be a non-empty string")
    if system is not None and not isinstance(system, str):
        raise ValueError("'system' must be a string")
    head = (ChatMessage("system", system),) if system else ()
    return head + (ChatMessage("user", prompt), ChatMessage("assistant", completion))


def _chat(messages) -> tuple[ChatMessage, ...]:
    if not isinstance(messages, list) or not messages:
        raise ValueError("'messages' must be a non-empty list")
    out = []
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or "role" not in m or "content" not in m:
            raise ValueError(f"messages[{i}] needs 'role' and 'content'")
        if m["role"] not in ROLES:
            raise ValueError(f"messages[{i}] has unknown role {m['role']!r}")
        if not isinstance(m["content"], str):
            raise ValueError(f"messages[{i}].content must be a string")
        out.append(ChatMessage(m["role"], m["content"]))
    if out[-1].role != "assistant" or not out[-1].content.strip():
        raise ValueError("the last message must be a non-empty assistant turn (the answer)")
    return tuple(out)


# ---- rendering and tokenizing -------------------------------------------------------------

@dataclass(frozen=True)
class ChatFormat:
    """What rendering needs from a model: its chat template and special tokens."""

    template: str | None
    bos_text: str = ""
    eos_text: str = ""
    bos_id: int | None = None
    add_bos: bool = False

    def render(self, messages: Sequence[ChatMessage], generation_prompt: bool) -> str:
        from slmkit.runtime.chat_template import render_chat

        return render_chat(messages, self.template, bos_token=self.bos_text,
                           eos_token=self.eos_text, add_generation_prompt=generation_prompt)


def spans(messages: Sequence[ChatMessage], fmt: ChatFormat) -> tuple[str, list[tuple[int, int]]]:
    """The whole rendered conversation and the (start, end) character spans to learn."""
    full = fmt.render(messages, False)
    out = []
    for i, m in enumerate(messages):
        if m.role != "assistant":
            continue
        context = fmt.render(messages[:i], True) if i else ""
        upto = fmt.render(messages[:i + 1], False)
        if not (full.startswith(upto) and upto.startswith(context)):
            raise DataError("the chat template does not render conversations incrementally "
                            "(a turn changes what came before it)",
                            hint="use the prompt/completion form or a single-turn chat")
        out.append((len(context), len(upto)))
    return full, out


def encode_example(record: Record, tokenizer, fmt: ChatFormat) -> Example:
    """Token ids and labels of one record (labels = ids on answer spans, IGNORE elsewhere)."""
    text, learn = spans(record.messages, fmt)
    ids: list[int] = []
    labels: list[int] = []
    if fmt.add_bos and fmt.bos_id is not None and not (fmt.bos_text and
                                                       text.startswith(fmt.bos_text)):
        ids.append(fmt.bos_id)
        labels.append(IGNORE)
    pos = 0
    for start, end in learn:
        for lo, hi, learned in ((pos, start, False), (start, end, True)):
            if hi > lo:
                piece = tokenizer.encode(text[lo:hi], add_special_tokens=False)
                ids.extend(piece)
                labels.extend(piece if learned else [IGNORE] * len(piece))
        pos = end
    return Example(record.line, ids, labels)


def encode_file(path: str | Path, tokenizer, fmt: ChatFormat, *,
                max_seq_len: int) -> EncodedData:
    """Read, validate and encode ``path``; over-long examples are skipped and counted."""
    records = read_records(path)
    kept, too_long = [], []
    for rec in records:
        ex = encode_example(rec, tokenizer, fmt)
        if len(ex.input_ids) > max_seq_len:
            too_long.append((rec.line, len(ex.input_ids)))
        else:
            kept.append(ex)
    data = EncodedData(str(path), kept, len(records), too_long, max_seq_len)
    if not kept:
        raise DataError(f"{path}: all {len(records)} examples are longer than --max-seq-len "
                        f"{max_seq_len} (e.g. line {too_long[0][0]}: {too_long[0][1]} tokens)",
                        hint="raise --max-seq-len or shorten the examples")
    return data


def collate(examples: Sequence[Example], pad_id: int):
    """Right-padded tensors: input_ids, attention_mask, labels — each ``[batch, longest]``."""
    import torch

    n = max(len(e.input_ids) for e in examples)
    ids = torch.full((len(examples), n), pad_id, dtype=torch.long)
    mask = torch.zeros((len(examples), n), dtype=torch.long)
    labels = torch.full((len(examples), n), IGNORE, dtype=torch.long)
    for i, e in enumerate(examples):
        k = len(e.input_ids)
        ids[i, :k] = torch.tensor(e.input_ids)
        mask[i, :k] = 1
        labels[i, :k] = torch.tensor(e.labels)
    return ids, mask, labels
