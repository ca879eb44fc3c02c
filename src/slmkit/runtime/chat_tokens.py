"""Chat prompts → token ids with message text kept as plain text.

The chat template's own special tokens (``<|im_start|>``, ``<|eot_id|>``, …) must become
special token ids, but the same text inside a message (a user's, or a retrieved RAG
passage) must not: otherwise ``<|im_start|>system`` in a user message opens a real system
turn. llama.cpp's tokenizer (and a Hugging Face tokenizer's added tokens) only split text at
special tokens and then tokenize the raw runs between them, so this does the same split by
hand: the rendered prompt is cut at the
control tokens that occur in the *template's* text only; every raw run (template text and
message text together, as before) is tokenized with ``parse_special=False``. For ordinary
messages the ids are exactly those of tokenizing the whole prompt at once.

Where message text sits in the prompt is found by rendering the chat a second time with
each message's content replaced by a unique marker. A template that changes the text
(beyond trimming it) defeats that; then a message holding control-token text is refused.
"""

from __future__ import annotations

import dataclasses
import re
import secrets
from collections.abc import Callable, Sequence
from typing import Protocol

from slmkit.core.types import ChatMessage


class Tokens(Protocol):
    """What this needs of a tokenizer (llama.cpp's model, or ``hfvocab.HFText``)."""

    bos: int | None  # None or negative: no BOS token
    adds_bos: bool

    def tokenize(self, text: str, *, add_special: bool, parse_special: bool) -> list[int]: ...

    def piece(self, token: int) -> bytes: ...  # b"" for a control token

    def token_text(self, token: int) -> str: ...


def chat_tokens(model: Tokens, messages: Sequence[ChatMessage],
                render: Callable[[Sequence[ChatMessage]], str]) -> list[int]:
    """The prompt ids of ``messages`` rendered by ``render`` (the engine's template)."""
    text = render(messages)
    has_bos = model.bos is not None and model.bos >= 0
    bos_text = model.token_text(model.bos) if has_bos else ""
    # a template that writes the BOS text itself must not get a second BOS
    bos = [model.bos] if (model.adds_bos and has_bos
                          and not (bos_text and text.startswith(bos_text))) else []
    spans = content_spans(messages, text, render)
    if spans is None:
        for i, m in enumerate(messages):
            found = _controls(model, m.content)
            if found:
                raise ValueError(
                    f"message {i} contains special-token text ({found[0]!r}) that this "
                    "model's chat template does not let the server keep as plain text; "
                    "remove it from the message")
        spans = []
    return bos + _tokenize_outside(model, text, spans)


def content_spans(messages: Sequence[ChatMessage], text: str,
                  render: Callable[[Sequence[ChatMessage]], str]) -> list[tuple[int, int]] | None:
    """``(start, end)`` of every message's text in ``text``, or ``None`` when the template
    transforms the text so that it cannot be located exactly."""
    nonce = secrets.token_hex(8)
    # empty contents stay empty: templates test them ("if message.content")
    marks = [f"\ue000{nonce}:{i}\ue001" if m.content else ""
             for i, m in enumerate(messages)]
    marked = render([dataclasses.replace(m, content=mark) for m, mark in zip(messages, marks,
                                                                               strict=True)])
    pattern = re.compile("\ue000" + nonce + r":(\d+)\ue001")
    for variant in ([m.content for m in messages], [m.content.strip() for m in messages]):
        spans, out, pos = [], [], 0
        for match in pattern.finditer(marked):
            out.append(marked[pos:match.start()])
            start = sum(map(len, out))
            out.append(variant[int(match.group(1))])
            spans.append((start, start + len(out[-1])))
            pos = match.end()
        out.append(marked[pos:])
        if "".join(out) == text:
            return [s for s in spans if s[0] < s[1]]
    return None


def _controls(model: Tokens, text: str) -> list[str]:
    """Texts of the control tokens (those that render as nothing) found in ``text``."""
    return [model.token_text(t) for t in model.tokenize(text, add_special=False,
                                                        parse_special=True)
            if not model.piece(t) and model.token_text(t)]


def _tokenize_outside(model: Tokens, text: str, spans: list[tuple[int, int]]) -> list[int]:
    """Tokenize ``text``: control tokens are parsed outside ``spans`` only; the raw runs
    between them are tokenized as plain text, as llama.cpp does for a whole prompt."""
    parts: list[tuple[str, bool]] = []  # (text, is_template)
    pos = 0
    for start, end in sorted(spans):
        parts += [(text[pos:start], True), (text[start:end], False)]
        pos = end
    parts.append((text[pos:], True))
    ids: dict[str, int] = {}
    for part, is_template in parts:
        if is_template and part:
            for t in model.tokenize(part, add_special=False, parse_special=True):
                if not model.piece(t) and model.token_text(t):
                    ids[model.token_text(t)] = t
    if not ids:
        return model.tokenize(text, add_special=False, parse_special=False)
    splitter = re.compile("(" + "|".join(re.escape(s) for s in
                                         sorted(ids, key=len, reverse=True)) + ")")
    out: list[int] = []
    raw: list[str] = []

    def flush() -> None:
        if raw and "".join(raw):
            out.extend(model.tokenize("".join(raw), add_special=False, parse_special=False))
        raw.clear()

    for part, is_template in parts:
        if not is_template:
            raw.append(part)
            continue
        for i, piece in enumerate(splitter.split(part)):
            if i % 2:  # a control token of the template
                flush()
                out.append(ids[piece])
            else:
                raw.append(piece)
    flush()
    return out
