"""Token ids ⇄ bytes for a Hugging Face tokenizer, the way llama.cpp renders tokens.

llama.cpp streams a token as its raw bytes (a multi-byte character may span tokens) and
renders special tokens as nothing; the torch engine does the same so both engines feed
:class:`slmkit.runtime.textstream.TextStream` identical bytes. Two tokenizer families
cover the models we load: byte-level BPE (GPT-2 style: SmolLM, Qwen, Llama 3), where each
vocabulary symbol is a byte spelled with GPT-2's printable alphabet, and sentencepiece
style (Llama 2, Gemma), where ``▁`` is a space and ``<0xAB>`` is a raw byte.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

# Token texts llama.cpp treats as end-of-generation besides the declared EOS (llama-vocab.cpp).
EOG_TEXTS = frozenset({
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|return|>",
    "<|call|>", "<EOT>", "_<EOT>", "<|end_of_text|>", "<｜end▁of▁sentence｜>",
})
_BYTE_TOKEN = re.compile(r"^<0x([0-9A-Fa-f]{2})>$")


def _gpt2_byte_decoder() -> dict[str, int]:
    """GPT-2's printable spelling of bytes, inverted (character → byte)."""
    printable = (list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
                 + list(range(ord("®"), ord("ÿ") + 1)))
    chars, extra = list(printable), 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + extra)
            extra += 1
    return {chr(c): b for b, c in zip(printable, chars)}


def _decoder_types(tokenizer) -> set[str]:
    spec = json.loads(tokenizer.backend_tokenizer.to_str()).get("decoder") or {}
    found, stack = set(), [spec]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            found.add(node.get("type", ""))
            stack.extend(node.get("decoders") or [])
    return found


class Vocab:
    """Byte pieces, display texts and special-token facts of one tokenizer.

    ``n_vocab`` is the model's row count (it may exceed the tokenizer's size: padded
    embedding rows render as nothing).
    """

    def __init__(self, tokenizer, n_vocab: int) -> None:
        self.tokenizer = tokenizer
        self.n_vocab = n_vocab
        added = tokenizer.backend_tokenizer.get_added_tokens_decoder()
        self.special = {i for i, t in added.items() if t.special}
        self._added = {i: t.content for i, t in added.items()}
        self.byte_level = "ByteLevel" in _decoder_types(tokenizer)
        self._pieces = self._build_pieces()

    def _build_pieces(self) -> list[bytes]:
        n_tok = len(self.tokenizer)
        symbols = self.tokenizer.convert_ids_to_tokens(list(range(min(n_tok, self.n_vocab))))
        byte_of = _gpt2_byte_decoder() if self.byte_level else None
        pieces: list[bytes] = []
        for i, sym in enumerate(symbols):
            if i in self.special or sym is None:
                pieces.append(b"")
            elif i in self._added:
                pieces.append(self._added[i].encode("utf-8"))
            elif byte_of is not None:
                pieces.append(bytes(byte_of[c] for c in sym if c in byte_of)
                              if all(c in byte_of for c in sym) else sym.encode("utf-8"))
            else:
                m = _BYTE_TOKEN.match(sym)
                pieces.append(bytes([int(m.group(1), 16)]) if m
                              else sym.replace("\u2581", " ").encode("utf-8"))
        pieces.extend(b"" for _ in range(self.n_vocab - len(pieces)))
        return pieces

    def piece(self, token: int) -> bytes:
        """The bytes a token renders to (special tokens render as nothing)."""
        return self._pieces[token] if 0 <= token < len(self._pieces) else b""

    def text(self, token: int) -> str:
        """A token's text with special tokens shown (for log-probability listings)."""
        if token in self._added:
            return self._added[token]
        return self.piece(token).decode("utf-8", errors="replace")

    def detokenize(self, tokens: Sequence[int]) -> str:
        return b"".join(self.piece(t) for t in tokens).decode("utf-8", errors="replace")

    def eog_ids(self, declared: Sequence[int]) -> frozenset[int]:
        """End-of-generation ids: the declared EOS ids plus special tokens llama.cpp
        also stops on (``<|im_end|>``, ``<|endoftext|>``, ``<end_of_turn>``, …)."""
        ids = {int(i) for i in declared if i is not None and 0 <= int(i) < self.n_vocab}
        ids |= {i for i, text in self._added.items() if text in EOG_TEXTS and i < self.n_vocab}
        return frozenset(ids)


class HFText:
    """The tokenizer side of a Python-loop engine: a Hugging Face tokenizer, its
    :class:`Vocab`, whether it adds a BOS, and the end-of-generation ids."""

    def __init__(self, tokenizer, n_vocab: int, *, add_bos: bool,
                 declared_eos: Sequence[int | None] = ()) -> None:
        self.tokenizer = tokenizer
        self.vocab = Vocab(tokenizer, n_vocab)
        self.add_bos = add_bos
        self.bos: int | None = tokenizer.bos_token_id
        self.eog = self.vocab.eog_ids([*declared_eos, tokenizer.eos_token_id])

    @property
    def n_vocab(self) -> int:
        return self.vocab.n_vocab

    @property
    def bos_text(self) -> str:
        """The BOS token's text when the tokenizer adds one (a template may write it)."""
        return (self.tokenizer.bos_token or "") if self.add_bos else ""

    @property
    def adds_bos(self) -> bool:
        return self.add_bos

    def piece(self, token: int) -> bytes:
        return self.vocab.piece(token)

    def token_text(self, token: int) -> str:
        return self.vocab.text(token)

    def tokenize(self, text: str, *, add_special: bool = True,
                 parse_special: bool = True) -> list[int]:
        """Token ids of ``text``; with ``parse_special=False`` special-token text (such
        as ``<|im_start|>``) stays plain text, as it must inside a chat message."""
        ids = self.tokenizer(text, add_special_tokens=False,
                             split_special_tokens=not parse_special).input_ids
        if add_special and self.add_bos and self.bos is not None:
            return [self.bos, *ids]
        return list(ids)

    def render_chat(self, messages, template: str | None, *,
                    add_generation_prompt: bool = True, tools=None) -> str:
        from slmkit.runtime.chat_template import render_chat

        tok = self.tokenizer
        return render_chat(messages, template, bos_token=tok.bos_token or "",
                           eos_token=tok.eos_token or "",
                           add_generation_prompt=add_generation_prompt, tools=tools)


def adds_bos(tokenizer) -> bool:
    """Whether ``tokenizer`` puts its BOS in front of text (probed, not configured)."""
    probe = tokenizer("a", add_special_tokens=True).input_ids
    bare = tokenizer("a", add_special_tokens=False).input_ids
    return (tokenizer.bos_token_id is not None and len(probe) > len(bare)
            and probe[0] == tokenizer.bos_token_id)
