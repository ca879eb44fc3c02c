"""From a request to the prompt's token ids, the same way on every local engine: the chat
template rendered (:mod:`.chat_template`), no second BOS when the template writes one, and
the context fit (over-long prompts raise, or keep their end when ``request.truncate``).
Stop strings and incremental UTF-8 live in :mod:`.textstream`."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from slmkit.core.errors import ContextOverflowError
from slmkit.core.types import ChatMessage, GenerateRequest


def prompt_ids(request: GenerateRequest, *, render: Callable[[Sequence[ChatMessage]], str],
               tokenize: Callable[..., list[int]], bos_text: str = "") -> list[int]:
    """The token ids ``request``'s prompt becomes: ``prompt_tokens`` as given, ``prompt``
    tokenized, or ``messages`` rendered with ``render`` then tokenized. ``tokenize(text,
    add_special=...)`` adds the BOS unless the text already starts with ``bos_text``."""
    if request.prompt_tokens is not None:
        return list(request.prompt_tokens)
    text = request.prompt if request.messages is None else render(request.messages)
    return tokenize(text, add_special=not (bos_text and text.startswith(bos_text)))


def fit_context(tokens: list[int], request: GenerateRequest, n_ctx: int) -> list[int]:
    """``tokens`` when they leave room for at least one generated token in ``n_ctx``;
    otherwise ``ContextOverflowError``, or — with ``request.truncate`` — the tail that
    leaves room for the answer (``max_tokens``, at most half the context)."""
    if not tokens:
        raise ValueError("the prompt is empty")
    if len(tokens) < n_ctx:
        return tokens
    if not request.truncate:
        raise ContextOverflowError(len(tokens), n_ctx)
    room = min(request.max_tokens or n_ctx // 4, n_ctx // 2)
    return tokens[len(tokens) - (n_ctx - room):]
