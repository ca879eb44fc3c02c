"""Text handling shared by the engines that tokenize with a Hugging Face tokenizer (torch,
onnx): tokenize/detokenize through :class:`~slmkit.runtime.torch.vocab.Vocab`, chat
rendering, prompt ids and the context fit, so both engines see the same ids and errors."""

from __future__ import annotations

import os
from collections.abc import Sequence

from slmkit.core.errors import ContextOverflowError
from slmkit.core.types import ChatMessage, GenerateRequest
from slmkit.runtime.chat_template import render_chat


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    """Length of the longest common prefix of two token lists."""
    n, i = min(len(a), len(b)), 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


def default_threads() -> int:
    import psutil

    return max(1, psutil.cpu_count(logical=False) or os.cpu_count() or 1)


class HFTextMixin:
    """Needs ``_tok`` (the HF tokenizer), ``vocab``, ``_add_bos``, ``_bos``, ``info``,
    ``n_ctx`` and ``_check_open()`` on the engine."""

    def tokenize(self, text: str, *, add_special: bool = True) -> list[int]:
        self._check_open()
        ids = self._tok(text, add_special_tokens=False).input_ids
        if add_special and self._add_bos and self._bos is not None:
            return [self._bos, *ids]
        return list(ids)

    def detokenize(self, tokens: Sequence[int]) -> str:
        self._check_open()
        return self.vocab.detokenize(tokens)

    def token_text(self, token: int) -> str:
        return self.vocab.text(token)

    def render_chat(self, messages: Sequence[ChatMessage], *,
                    add_generation_prompt: bool = True) -> str:
        return render_chat(messages, self.info.chat_template,
                           bos_token=self._tok.bos_token or "", eos_token=self._tok.eos_token or "",
                           add_generation_prompt=add_generation_prompt)

    def prompt_tokens(self, request: GenerateRequest) -> list[int]:
        """The token ids a request's prompt becomes (chat template applied for messages)."""
        if request.prompt_tokens is not None:
            return list(request.prompt_tokens)
        text = request.prompt if request.messages is None else self.render_chat(request.messages)
        bos_text = self._tok.bos_token if self._add_bos else ""
        return self.tokenize(text, add_special=not (bos_text and text.startswith(bos_text)))

    def _fit_context(self, tokens: list[int], request: GenerateRequest) -> list[int]:
        """``tokens`` if they leave room in the context; else ContextOverflowError, or the
        tail that leaves room for the answer when ``request.truncate``."""
        if not tokens:
            raise ValueError("the prompt is empty")
        if len(tokens) < self.n_ctx:
            return tokens
        if not request.truncate:
            raise ContextOverflowError(len(tokens), self.n_ctx)
        room = min(request.max_tokens or self.n_ctx // 4, self.n_ctx // 2)
        return tokens[len(tokens) - (self.n_ctx - room):]
