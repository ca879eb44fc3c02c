"""A chat request with tools, run to an answer: text streamed while it is text, calls
gathered once the model starts one, and a call the chat already made and answered
replaced by a text answer (small models loop on it; see :func:`.tools.repeats`).

Routes stream :meth:`ToolRun.deltas` (content text as it becomes safe to show) and then
read :attr:`ToolRun.turn`, or await :meth:`ToolRun.result` for the whole answer.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from slmkit.core.types import TokenLogprob, Usage
from slmkit.serve import tools as toolkit
from slmkit.serve.registry import LoadedModel
from slmkit.serve.stream import Generation


@dataclass
class Turn:
    """The answer: its text (``None`` when it is calls only), its calls and how it ended."""

    content: str | None
    calls: list[dict] = field(default_factory=list)
    finish: str | None = None
    usage: Usage = field(default_factory=Usage)
    logprobs: list[TokenLogprob] | None = None
    retried: bool = False  # the first answer repeated an answered call; asked again

    @property
    def finish_reason(self) -> str | None:
        return "tool_calls" if self.calls else self.finish


class ToolRun:
    """One request with tools in flight (``gen`` already started by the service)."""

    def __init__(self, svc, model: LoadedModel, gen: Generation, plan: toolkit.ToolPlan,
                 log: dict | None = None) -> None:
        self.svc, self.model, self.gen, self.plan, self.log = svc, model, gen, plan, log
        self.turn: Turn | None = None

    async def deltas(self) -> AsyncIterator[str]:
        """Content text as it becomes safe to show; :attr:`turn` is set at the end."""
        splitter = toolkit.Splitter(self.plan)
        last, lps = None, None
        try:
            async for batch in self.gen.batches():
                for chunk in batch:
                    if chunk.logprobs is not None:
                        lps = (lps or []) + list(chunk.logprobs)
                    last = chunk
                    piece = splitter.push(chunk.text)
                    if piece:
                        yield piece
        finally:
            self.gen.cancel()
        usage = last.usage if last is not None and last.usage is not None else Usage()
        finish = last.finish_reason if last is not None else "cancelled"
        content, calls = toolkit.parse(splitter.text, self.plan)
        repeated = bool(calls) and toolkit.repeats(calls, list(self.gen.request.messages))
        stray = (not calls and self.plan.allow_text
                 and toolkit.attempted(splitter.text[splitter.sent:]))
        if not (repeated or stray):
            rest = "" if calls else splitter.text[splitter.sent:]
            if rest:
                yield rest
            self.turn = Turn(content, calls, finish, usage, lps)
            return
        shown = splitter.text[:splitter.sent]
        parts = [shown] if shown.strip() else []
        async for piece in self._text_answer(usage, results=repeated):
            parts.append(piece)
            yield piece
        self.turn.content = "".join(parts)

    async def _text_answer(self, first: Usage, *, results: bool) -> AsyncIterator[str]:
        """Generate the text answer that replaces a repeated or stray call."""
        from slmkit.serve import service

        request = service.text_only(self.gen.request, self.model, results=results)
        _, gen = await self.svc.start(self.model.name, lambda m: request)
        last = None
        try:
            async for batch in gen.batches():
                for chunk in batch:
                    last = chunk
                    if chunk.text:
                        yield chunk.text
        finally:
            gen.cancel()
        u = last.usage if last is not None and last.usage is not None else Usage()
        usage = Usage(first.prompt_tokens + u.prompt_tokens,
                      first.completion_tokens + u.completion_tokens,
                      first.cached_tokens + u.cached_tokens,
                      first.prompt_seconds + u.prompt_seconds,
                      first.decode_seconds + u.decode_seconds)
        self.turn = Turn("", [], last.finish_reason if last else "cancelled", usage,
                         retried=True)
        if self.log is not None:
            self.log["tool_retry"] = "repeated call" if results else "no such tool"

    async def result(self, disconnected: Callable | None = None) -> Turn:
        """The whole answer (cancelled when ``disconnected()`` returns first)."""
        import asyncio

        async def drain() -> None:
            async for _ in self.deltas():
                pass

        task = asyncio.ensure_future(drain())
        watcher = asyncio.ensure_future(disconnected()) if disconnected else None
        try:
            if watcher is None:
                await task
            else:
                await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
                if not task.done():
                    task.cancel()
                    return Turn(None, [], "cancelled")
                task.result()
        finally:
            if watcher is not None:
                watcher.cancel()
        return self.turn
