"""A deterministic, fully contract-abiding stand-in for a local ``core.Engine``.

Used where the real model would only make a test slow or fuzzy: the router's unit tests,
the in-process HTTP tests (``tests/serve/test_http_fake.py``) and the Engine contract suite
(``tests/contract``). The real model is used by the integration tests.

By default it answers "local: <last user text>", one word per chunk, with log-probabilities
that are low when the prompt says "hard". ``answer`` scripts another answer (a string, or a
function of the prompt text); with ``grammar=True``, ``schema_answer`` is what a request
with a JSON schema gets (the fake enforces no grammar: script a conforming answer). Its
tokenizer is exact: every whitespace-ended word is one
token, from a vocabulary shared by all fakes, so ``detokenize(tokenize(t)) == t``.

For serving tests it can also hold every stream before its first chunk until ``gate`` is
set, fail after ``fail_after`` chunks, and it counts how many streams ran at once.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Sequence

from slmkit.core.engine import Capabilities, Engine, ModelInfo, require
from slmkit.core.errors import ContextOverflowError, EngineClosedError, UnsupportedOperationError
from slmkit.core.types import ChatMessage, Chunk, GenerateRequest, TokenLogprob, Usage
from slmkit.runtime.textstream import StopMatcher

PIECES = re.compile(r"\S+\s*|\s+")  # a word with its trailing space; leading space alone


class Vocabulary:
    """Pieces ↔ ids, assigned on first sight (ids from 10; thread-safe)."""

    def __init__(self) -> None:
        self._ids: dict[str, int] = {}
        self._pieces: list[str] = []
        self._lock = threading.Lock()

    def id(self, piece: str) -> int:
        with self._lock:
            if piece not in self._ids:
                self._ids[piece] = len(self._pieces) + 10
                self._pieces.append(piece)
            return self._ids[piece]

    def piece(self, token: int) -> str:
        if not 10 <= token < len(self._pieces) + 10:
            raise ValueError(f"token id {token} is not in the fake vocabulary")
        return self._pieces[token - 10]


VOCAB = Vocabulary()


class FakeStream:
    """The chunks of one fake answer; ``close()`` cancels it (from any thread)."""

    def __init__(self, engine: FakeLocal, pieces: list[str], request: GenerateRequest,
                 n_prompt: int, logprob: float) -> None:
        self.engine, self.request, self.n_prompt, self.logprob = engine, request, n_prompt, logprob
        limit = request.max_tokens
        self.words = pieces if limit is None else pieces[:limit]
        self.cut_by_length = limit is not None and len(pieces) > limit
        self.want = request.logprobs
        self.stop = StopMatcher(request.stop)
        self.i, self.closed, self.done, self.started = 0, False, False, False

    def __iter__(self) -> FakeStream:
        return self

    def __next__(self) -> Chunk:
        if self.done or self.closed:
            raise StopIteration
        if not self.started:
            self.started = True
            self.engine._enter()
            self._wait_for_gate()
        if self.closed:  # closed while held at the gate
            raise StopIteration
        fail = self.engine.fail_after
        if fail is not None and self.i >= fail:
            self._end()
            raise RuntimeError("the fake engine failed on purpose")
        if self.i < len(self.words):
            word = self.words[self.i]
            self.i += 1
            text, stopped = self.stop.push(word)
            if stopped:
                return self._finish(text, "stop")
            return Chunk(text, (VOCAB.id(word),), self._logprobs(word))
        return self._finish(self.stop.flush(), "length" if self.cut_by_length else "stop")

    def _wait_for_gate(self) -> None:
        gate = self.engine.gate
        if gate is None:
            return
        deadline = time.monotonic() + 60  # a hang guard, not a timing claim
        while not gate.wait(0.01):
            if self.closed:
                return
            if time.monotonic() > deadline:
                self._end()
                raise TimeoutError("the fake engine's gate was never opened")

    def _logprobs(self, word: str) -> tuple[TokenLogprob, ...] | None:
        if self.want is None:
            return None
        top = tuple(TokenLogprob(VOCAB.id(w), w, self.logprob - k)
                    for k, w in enumerate([word, "maybe ", "perhaps "][:self.want]))
        return (TokenLogprob(VOCAB.id(word), word, self.logprob, top),)

    def _finish(self, text: str, reason: str) -> Chunk:
        self._end()
        return Chunk(text, finish_reason=reason,
                     usage=Usage(self.n_prompt, self.i, prompt_seconds=0.001,
                                 decode_seconds=0.002))

    def _end(self) -> None:
        if not self.done:
            self.done = True
            if self.started:
                self.engine._leave()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            if not self.done:
                self._end()


class FakeLocal:
    """A fake ``core.Engine``. See the module docstring for what each option does."""

    def __init__(self, *, n_ctx: int = 512, name: str = "fake-local",
                 answer: str | Callable[[str], str] | None = None, max_sequences: int = 4,
                 embed: bool = True, grammar: bool = False,
                 gate: threading.Event | None = None, fail_after: int | None = None,
                 chat_template: str | None = None, schema_answer: str | None = None) -> None:
        self.info = ModelInfo(name=name, architecture="fake", n_ctx=n_ctx, n_ctx_train=n_ctx,
                              n_vocab=50000, n_embd=1, chat_template=chat_template,
                              capabilities=Capabilities(embed=embed, grammar=grammar,
                                                        max_sequences=max_sequences))
        self.answer, self.gate, self.fail_after = answer, gate, fail_after
        self.schema_answer = schema_answer
        self.requests: list[GenerateRequest] = []
        self.streams: list[FakeStream] = []
        self.closed = False
        self.active = self.max_active = 0
        self._lock = threading.Lock()

    n_threads = 1

    def stats(self) -> dict:
        return {}  # no scheduler of its own: the server counts its requests

    # ---- text -----------------------------------------------------------------------------
    def render_chat(self, messages: Sequence[ChatMessage], *, add_generation_prompt=True,
                    tools=None) -> str:
        self._check_open()
        head = [f"tools: {[t['function']['name'] for t in tools]}"] if tools else []
        return "\n".join(head + [f"{m.role}: {m.content}" for m in messages])

    def tokenize(self, text: str, *, add_special: bool = True) -> list[int]:
        self._check_open()
        return [VOCAB.id(p) for p in PIECES.findall(text)]

    def detokenize(self, tokens: Sequence[int]) -> str:
        self._check_open()
        return "".join(VOCAB.piece(t) for t in tokens)

    def prompt_tokens(self, request: GenerateRequest) -> list[int]:
        self._check_open()
        if request.prompt_tokens is not None:
            return list(request.prompt_tokens)
        text = (request.prompt if request.messages is None
                else self.render_chat(request.messages, tools=request.tools))
        return self.tokenize(text)

    def token_logprobs(self, tokens: Sequence[int], *, top: int = 0) -> list[TokenLogprob]:
        self._check_open()
        out = []
        for t in tokens[1:]:
            piece = VOCAB.piece(t)
            alts = tuple(TokenLogprob(VOCAB.id(w), w, -1.0 - k)
                         for k, w in enumerate([piece, "maybe ", "perhaps "][:top]))
            out.append(TokenLogprob(t, piece, -1.0, alts))
        return out

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        self._check_open()
        if not self.info.capabilities.embed:
            raise UnsupportedOperationError(f"{self.info.name} was made without embeddings")
        return [[float(len(t))] for t in texts]

    def logits(self, tokens: Sequence[int], *, first: int = 0):
        require(self, "logits")  # declared off: the fake has no logits

    def with_adapter(self, name: str, *, on_close: Callable[[], None] | None = None) -> Engine:
        require(self, "adapters")  # declared off: the fake loads no adapters
        raise AssertionError("unreachable")

    # ---- generation -----------------------------------------------------------------------
    def generate(self, request: GenerateRequest) -> FakeStream:
        self._check_open()
        request.validate()
        if (request.grammar is not None or request.json_schema is not None
                or request.tool_calls is not None):
            require(self, "grammar")  # a grammar fake only replays its scripted answer
        if request.prompt_tokens is not None:
            text = self.detokenize(request.prompt_tokens)
        elif request.messages is not None:
            text = self.render_chat(request.messages, tools=request.tools)
        else:
            text = request.prompt
        n_prompt = len(self.tokenize(text))
        if n_prompt >= self.info.n_ctx:
            if not request.truncate:
                raise ContextOverflowError(n_prompt, self.info.n_ctx)
            n_prompt = self.info.n_ctx - 1  # keeps the end, as the real engines do
        self.requests.append(request)
        constrained = request.json_schema is not None or request.tool_calls is not None
        pieces = (PIECES.findall(self.schema_answer)
                  if constrained and self.schema_answer is not None else self._pieces(text))
        stream = FakeStream(self, pieces, request, n_prompt,
                            -3.0 if "hard" in text else -0.1)
        self.streams.append(stream)
        return stream

    def _pieces(self, text: str) -> list[str]:
        if self.answer is None:
            last = text.splitlines()[-1].split(": ", 1)[-1] if text else ""
            return [w + " " for w in f"local: {last}".split()]
        answer = self.answer(text) if callable(self.answer) else self.answer
        return PIECES.findall(answer)

    def _enter(self) -> None:
        with self._lock:
            self.active += 1
            self.max_active = max(self.max_active, self.active)

    def _leave(self) -> None:
        with self._lock:
            self.active -= 1

    def _check_open(self) -> None:
        if self.closed:
            raise EngineClosedError(f"engine {self.info.name} is closed")

    def close(self) -> None:
        self.closed = True
