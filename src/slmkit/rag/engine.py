"""``RagEngine``: any ``core.Engine`` plus a retriever, itself an ``Engine``.

``generate`` takes the last user message (or the prompt) as the question, retrieves,
and asks the wrapped engine with the numbered sources in the prompt; the stream ends with a
"Sources: [1] file:lines …" line naming what the answer cited. When retrieval is weak it
answers that it does not know without calling the model. Everything else (tokenize,
scoring, embeddings, chat templates) is the wrapped engine's.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence

from slmkit.core.engine import Engine, ModelInfo
from slmkit.core.retrieval import Retriever
from slmkit.core.types import ChatMessage, Chunk, GenerateRequest, TokenLogprob, Usage
from slmkit.rag import answer as A


class RagEngine:
    def __init__(self, engine: Engine, retriever: Retriever, *, name: str, k: int = 5,
                 threshold: float = A.DEFAULT_THRESHOLD) -> None:
        self.engine, self.retriever, self.k, self.threshold = engine, retriever, k, threshold
        self.info: ModelInfo = dataclasses.replace(engine.info, name=name)

    def generate(self, request: GenerateRequest) -> Iterator[Chunk]:
        request.validate()
        question, history, system = self._split(request)
        hits = self.retriever.retrieve(question, self.k)
        ans = A.Answer(question, "", list(hits),
                       top_similarity=max((p.similarity for p in hits), default=0.0))
        if A.is_weak(hits, self.threshold):
            return self._dont_know(ans)
        budget = request.max_tokens or 256
        history_tokens = sum(len(self.engine.tokenize(m.content, add_special=False))
                             for m in history)
        ans.passages = A.fit_passages(self.engine, question, hits, max_tokens=budget,
                                      history_tokens=history_tokens)
        messages = A.build_messages(question, ans.passages, system=system, history=history)
        inner = dataclasses.replace(request, prompt=None, prompt_tokens=None,
                                    messages=messages)  # a question over the context raises
        return self._stream(self.engine.generate(inner), ans)

    def _split(self, request: GenerateRequest) -> tuple[str, list[ChatMessage], str | None]:
        if request.messages is None:
            if request.prompt is None:
                raise ValueError("a retrieval-augmented model needs a prompt or messages")
            return request.prompt, [], None
        msgs = list(request.messages)
        users = [i for i, m in enumerate(msgs) if m.role == "user"]
        if not users:
            raise ValueError("a retrieval-augmented chat needs a user message to answer")
        last = users[-1]
        system = "\n".join(m.content for m in msgs if m.role == "system") or None
        history = [m for m in msgs[:last] if m.role in ("user", "assistant")]
        return msgs[last].content, history, system

    def _dont_know(self, ans: A.Answer) -> Iterator[Chunk]:
        n = 0
        for chunk in A.stream_text(A.DONT_KNOW):
            n += 1
            yield chunk
        yield Chunk("", finish_reason="stop", usage=Usage(0, n))

    def _stream(self, chunks: Iterator[Chunk], ans: A.Answer) -> Iterator[Chunk]:
        parts: list[str] = []
        try:
            for chunk in chunks:
                if chunk.finish_reason is not None:
                    if chunk.text:
                        parts.append(chunk.text)
                        yield dataclasses.replace(chunk, finish_reason=None, usage=None)
                        chunk = dataclasses.replace(chunk, text="", token_ids=(),
                                                    logprobs=None)
                    ans.text = "".join(parts)
                    footer = A.sources_footer(A.finish(ans))
                    if footer:
                        yield Chunk(footer)
                    yield chunk
                    return
                parts.append(chunk.text)
                yield chunk
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()

    # ---- the rest is the wrapped engine's ------------------------------------------------
    def tokenize(self, text: str, *, add_special: bool = True) -> list[int]:
        return self.engine.tokenize(text, add_special=add_special)

    def detokenize(self, tokens: Sequence[int]) -> str:
        return self.engine.detokenize(tokens)

    def token_logprobs(self, tokens: Sequence[int], *, top: int = 0) -> list[TokenLogprob]:
        return self.engine.token_logprobs(tokens, top=top)

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return self.engine.embed(texts)

    def render_chat(self, messages: Sequence[ChatMessage], *,
                    add_generation_prompt: bool = True) -> str:
        return self.engine.render_chat(messages, add_generation_prompt=add_generation_prompt)

    def close(self) -> None:
        self.engine.close()
        close = getattr(self.retriever, "close", None)
        if close is not None:
            close()
