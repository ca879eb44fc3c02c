"""A deterministic stand-in for a local ``core.Engine`` (the router's unit tests; the real
model is used by the integration tests). It answers "local: <last user text>", one word per
chunk, with log-probabilities that are low when the prompt says "hard"."""

from __future__ import annotations

import zlib
from collections.abc import Sequence

from slmkit.core.engine import Capabilities, ModelInfo
from slmkit.core.errors import ContextOverflowError
from slmkit.core.types import ChatMessage, Chunk, GenerateRequest, TokenLogprob, Usage


class FakeStream:
    def __init__(self, words: list[str], logprob: float, want: int | None, n_prompt: int,
                 limit: int | None) -> None:
        self.words, self.logprob, self.want = words[:limit] if limit else words, logprob, want
        self.n_prompt, self.i, self.closed, self.done = n_prompt, 0, False, False

    def __iter__(self):
        return self

    def __next__(self) -> Chunk:
        if self.done or self.closed:
            raise StopIteration
        if self.i < len(self.words):
            word = self.words[self.i]
            self.i += 1
            lps = (TokenLogprob(self.i, word, self.logprob),) if self.want is not None else None
            return Chunk(word, (self.i,), lps)
        self.done = True
        return Chunk("", finish_reason="stop",
                     usage=Usage(self.n_prompt, len(self.words), prompt_seconds=0.001,
                                 decode_seconds=0.002))

    def close(self) -> None:
        self.closed = True


class FakeLocal:
    def __init__(self, *, n_ctx: int = 512) -> None:
        self.info = ModelInfo(name="fake-local", n_ctx=n_ctx,
                              capabilities=Capabilities(max_sequences=4))
        self.requests: list[GenerateRequest] = []
        self.streams: list[FakeStream] = []
        self.closed = False

    def render_chat(self, messages: Sequence[ChatMessage], *, add_generation_prompt=True) -> str:
        return "\n".join(f"{m.role}: {m.content}" for m in messages)

    def tokenize(self, text: str, *, add_special: bool = True) -> list[int]:
        return [zlib.crc32(w.encode()) % 50000 for w in text.split()]

    def detokenize(self, tokens: Sequence[int]) -> str:
        return " ".join(f"t{t}" for t in tokens)

    def token_logprobs(self, tokens, *, top=0):
        return [TokenLogprob(t, "", -1.0) for t in tokens[1:]]

    def embed(self, texts):
        return [[float(len(t))] for t in texts]

    def generate(self, request: GenerateRequest) -> FakeStream:
        request.validate()
        text = request.prompt if request.messages is None else self.render_chat(request.messages)
        n_prompt = len(self.tokenize(text or ""))
        if n_prompt >= self.info.n_ctx and not request.truncate:
            raise ContextOverflowError(n_prompt, self.info.n_ctx)
        self.requests.append(request)
        last = text.splitlines()[-1].split(": ", 1)[-1] if text else ""
        words = [w + " " for w in f"local: {last}".split()]
        stream = FakeStream(words, -3.0 if "hard" in text else -0.1, request.logprobs, n_prompt,
                            request.max_tokens)
        self.streams.append(stream)
        return stream

    def close(self) -> None:
        self.closed = True
