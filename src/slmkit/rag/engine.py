"""``RagEngine``: any ``core.Engine`` plus a retriever, itself an ``Engine``.

``generate`` takes the last user message (or the prompt) as the question, retrieves,
and asks the wrapped engine with the numbered sources in the prompt; the stream ends with a
"Sources: [1] file:lines …" line naming what the answer cited. When retrieval is weak it
answers that it does not know without calling the model. Everything else (tokenize,
scoring, embeddings, chat templates) is the wrapped engine's, forwarded by
:class:`~slmkit.core.wrap.EngineWrapper`. Adapters are declared off: an adapter view of
the wrapped engine would answer without retrieval.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Generator

from slmkit.core.engine import ChunkStream, Engine
from slmkit.core.retrieval import Retriever
from slmkit.core.types import ChatMessage, Chunk, GenerateRequest, Usage
from slmkit.core.wrap import EngineWrapper
from slmkit.rag import answer as A


class RagEngine(EngineWrapper):
    """``engine`` answering from what ``retriever`` finds (see the module docstring);
    ``engine`` is also reachable as ``inner``. Closing closes the wrapped engine."""

    def __init__(self, engine: Engine, retriever: Retriever, *, name: str, k: int = 5,
                 threshold: float = A.DEFAULT_THRESHOLD) -> None:
        caps = dataclasses.replace(engine.info.capabilities, adapters=False)
        super().__init__(engine, info=dataclasses.replace(engine.info, name=name,
                                                          capabilities=caps))
        self.engine, self.retriever, self.k, self.threshold = engine, retriever, k, threshold

    def generate(self, request: GenerateRequest) -> ChunkStream:
        inner, ans = self._plan(request)
        if inner is None:
            return self._dont_know(ans)
        return self._stream(self.engine.generate(inner), ans)

    def prompt_tokens(self, request: GenerateRequest) -> list[int]:
        """What ``generate`` evaluates: the sources, instructions and question (none when
        retrieval finds nothing close and the answer is "I don't know")."""
        inner, _ = self._plan(request)
        return [] if inner is None else self.engine.prompt_tokens(inner)

    def _plan(self, request: GenerateRequest) -> tuple[GenerateRequest | None, A.Answer]:
        """Retrieve for ``request``: the wrapped engine's request with the sources in its
        prompt (``None`` when retrieval is weak), and the answer being built."""
        request.validate()
        question, history, system = self._split(request)
        hits = self.retriever.retrieve(question, self.k)
        ans = A.Answer(question, "", list(hits),
                       top_similarity=max((p.similarity for p in hits), default=0.0))
        if A.is_weak(hits, self.threshold):
            return None, ans
        budget = request.max_tokens or A.ANSWER_TOKENS
        history_tokens = sum(len(self.engine.tokenize(m.content, add_special=False))
                             for m in history)
        ans.passages = A.fit_passages(self.engine, question, hits, max_tokens=budget,
                                      history_tokens=history_tokens)
        messages = A.build_messages(question, ans.passages, system=system, history=history)
        # a question over the context raises; no max_tokens: a short answer's budget, and
        # stop where a model starts pasting the numbered sources back
        inner = dataclasses.replace(request, prompt=None, prompt_tokens=None,
                                    messages=messages, max_tokens=A.ANSWER_TOKENS
                                    if request.max_tokens is None else request.max_tokens,
                                    stop=(*request.stop, *A.stop_strings(ans.passages)))
        return inner, ans

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

    def _dont_know(self, ans: A.Answer) -> Generator[Chunk, None, None]:
        n = 0
        for chunk in A.stream_text(A.DONT_KNOW):
            n += 1
            yield chunk
        yield Chunk("", finish_reason="stop", usage=Usage(0, n))

    def _stream(self, chunks: ChunkStream, ans: A.Answer) -> Generator[Chunk, None, None]:
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
            chunks.close()
