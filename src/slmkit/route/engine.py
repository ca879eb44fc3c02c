"""``RoutedEngine``: a ``core.Engine`` that answers with the local model first and escalates
to a remote one on measured signals, with every escalated payload masked by the guard.

Order of checks for one request: an explicit tag (``#route:local`` / ``#route:remote`` in
the last user message, or ``generate(request, route=...)``); a grammar (local only); a
prompt too long for the local context, or one the difficulty model rates hard (escalate at
once, without running the local model); otherwise the local model
answers and its first ``judge_tokens`` tokens are judged by their log-probabilities. Before
anything is sent: the budget (exhausted → local), the guard (block → error, keep-local →
local, the rest masked). An upstream failure before any byte gives the local answer or
the error, as configured. ``generate`` returns once the route is decided, so every such
error raises there, before the first chunk.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from slmkit.core.engine import Capabilities, ChunkStream, Engine, ModelInfo
from slmkit.core.errors import SlmError
from slmkit.core.types import ChatMessage, Chunk, GenerateRequest
from slmkit.core.wrap import EngineWrapper
from slmkit.route.costs import Budget, PriceTable
from slmkit.route.decide import (
    FALLBACK,
    LOCAL,
    REMOTE,
    Decision,
    RouteConfig,
    extract_tag,
    judge,
    too_long_for_local,
)
from slmkit.route.ledger import Entry, Ledger
from slmkit.route.masking import mask_json
from slmkit.route.stream import RoutedStream, Stopwatch


class Masker(Protocol):
    """What the router needs from a privacy guard (``slmkit.guard.Guard`` is one; the CLI
    wires it in, so ``route`` does not import ``guard``)."""

    def new_vault(self, conversation_id: str | None = None) -> Any: ...

    def protect(self, text: str, vault: Any, *, where: str = "text") -> Any: ...

    def protect_messages(self, messages: Sequence[ChatMessage], vault: Any
                         ) -> tuple[list[ChatMessage], tuple[str, ...]]: ...

    def stream_unmasker(self, vault: Any) -> Any: ...


class Difficulty(Protocol):
    """A prompt difficulty model (``route.difficulty.DifficultyModel`` and
    ``route.prompt_router.PromptRouter`` are); optional attributes ``signal`` and
    ``label`` name its score in the decision (default ``p_hard``, "p(hard)")."""

    def p_hard(self, text: str) -> float: ...


@dataclass
class Attempt:
    """The judged start of a local answer."""

    head: list[Chunk] = field(default_factory=list)
    stream: ChunkStream | None = None
    logprobs: list[float] = field(default_factory=list)
    finished: bool = False  # the whole answer is in ``head``
    closed: bool = False  # cancelled before finishing: ``head`` is not an answer
    seconds: float = 0.0

    def close(self) -> None:
        if self.finished or self.closed:
            return
        self.closed = True
        if self.stream is not None:
            self.stream.close()


class RoutedEngine(EngineWrapper):
    """Local first, remote when needed; see the module docstring. Thread-safe when both
    engines are. ``info.name`` defaults to ``auto``. Everything but ``generate`` and
    ``close`` is the local engine's (``inner``), forwarded by ``EngineWrapper``; adapters
    are declared off (an adapter view of the local engine would not route)."""

    def __init__(self, local: Engine, remote: Engine, *, guard: Masker,
                 config: RouteConfig | None = None, ledger: Ledger | None = None,
                 prices: PriceTable | None = None, budget: Budget | None = None,
                 name: str = "auto", owns_engines: bool = True,
                 on_decision: Callable[[str, Decision], None] | None = None,
                 difficulty: Difficulty | None = None) -> None:
        super().__init__(local)
        self.local, self.remote, self.guard = local, remote, guard
        self.difficulty = difficulty
        self.config = config or RouteConfig()
        self.ledger = ledger or Ledger()
        self.prices = prices or PriceTable.load()
        self.budget = budget or Budget()
        self.remote_model = remote.info.name  # the price table's key
        self._owns, self._on_decision = owns_engines, on_decision
        self._budget_lock = threading.Lock()
        self._in_flight: tuple[int, int, float] = (0, 0, 0.0)  # requests, tokens, cost
        li = local.info
        self.info = ModelInfo(
            name=name, path=li.path, architecture="routed", n_vocab=li.n_vocab,
            n_ctx=max(li.n_ctx, remote.info.n_ctx), n_ctx_train=li.n_ctx_train,
            chat_template=li.chat_template,
            capabilities=Capabilities(logprobs=True, logits=li.capabilities.logits,
                                      embed=li.capabilities.embed,
                                      grammar=li.capabilities.grammar,
                                      max_sequences=max(li.capabilities.max_sequences,
                                                        remote.info.capabilities.max_sequences)))

    # ---- generation ------------------------------------------------------------------
    def generate(self, request: GenerateRequest, *, route: str | None = None) -> RoutedStream:
        """Decide the route (running the local judge when needed) and return the stream."""
        clock = Stopwatch()
        with clock:
            request.validate()
            tag, req = extract_tag(request) if self.config.tags else (None, request)
            ignored = {}
            if tag == REMOTE and not self.config.allow_remote_tag:
                tag, ignored = None, {"tag": "remote ignored"}
            forced = route or tag
            if forced not in (None, LOCAL, REMOTE):
                raise ValueError(f"route must be {LOCAL!r} or {REMOTE!r}, got {forced!r}")
        grammar = req.grammar is not None or req.tool_calls is not None or bool(req.tools)
        if forced == LOCAL or grammar or (req.max_tokens == 0 and not forced):
            why = ("tag:local" if forced == LOCAL else "grammar: local only"
                   if grammar else "max_tokens=0: nothing to generate")
            return self._local(req, request, Decision(LOCAL, why), clock)
        with clock:
            reason = "tag:remote" if forced == REMOTE else self._too_long(req)
            ahead = {**ignored, **({} if reason else self._difficulty(req))}
        if reason or ahead.get("reason"):
            return self._escalate(req, request, reason or ahead.pop("reason"), clock, None,
                                  ahead)
        attempt = self._attempt_local(req, request)
        with clock:
            escalate, reason, signals = judge(attempt.logprobs, _text(attempt.head), self.config)
            signals.update(ahead)
        if not escalate:
            return self._stream_local(req, request, Decision(LOCAL, reason, signals), clock,
                                      attempt)
        return self._escalate(req, request, reason, clock, attempt, signals)

    def _difficulty(self, req: GenerateRequest) -> dict:
        """The difficulty model's score for the prompt (``p_hard``, or the signal the model
        names), and a reason when it is over ``config.max_difficulty`` (escalate before
        running the local model)."""
        if self.difficulty is None:
            return {}
        model = self.difficulty
        p = round(float(model.p_hard(_prompt_text(req))), 4)
        key, label = getattr(model, "signal", "p_hard"), getattr(model, "label", "p(hard)")
        out: dict = {key: p}
        if p >= self.config.max_difficulty:
            out["reason"] = f"difficulty: {label} {p:.2f} >= {self.config.max_difficulty:g}"
        return out

    def _too_long(self, req: GenerateRequest) -> str | None:
        n_prompt = self._local_prompt_tokens(req)
        n_ctx = self.local.info.n_ctx
        if too_long_for_local(n_prompt, n_ctx, self.config):
            return (f"prompt_too_long: {n_prompt} tokens + {self.config.reserve_tokens} reserve "
                    f"> local context {n_ctx}")
        return None

    def _local_prompt_tokens(self, req: GenerateRequest) -> int:
        if req.prompt_tokens is not None:
            return len(req.prompt_tokens)
        text = req.prompt if req.messages is None else self.local.render_chat(req.messages)
        return len(self.local.tokenize(text))

    def _attempt_local(self, req: GenerateRequest, original: GenerateRequest) -> Attempt:
        t0 = time.perf_counter()
        wanted = original.logprobs if original.logprobs is not None else 0
        attempt = Attempt(stream=self.local.generate(dataclasses.replace(req, logprobs=wanted)))
        judge_n = self.config.judge_tokens
        for chunk in attempt.stream:
            attempt.head.append(chunk)
            attempt.logprobs.extend(lp.logprob for lp in chunk.logprobs or ())
            if chunk.finish_reason is not None:
                attempt.finished = True
                break
            if judge_n and len(attempt.logprobs) >= judge_n:
                break
        attempt.seconds = time.perf_counter() - t0
        return attempt

    def _escalate(self, req: GenerateRequest, original: GenerateRequest, reason: str,
                  clock: Stopwatch, attempt: Attempt | None, signals: dict | None = None
                  ) -> RoutedStream:
        signals = dict(signals or {})
        with clock:
            over, held = self._reserve(req)
        if over:
            decision = Decision(LOCAL, f"budget_exhausted: {over} (wanted remote: {reason})",
                                signals)
            return self._local(req, original, decision, clock, attempt)
        try:
            with clock:
                vault = self.guard.new_vault(original.id)
                masked, keep_local = self._mask(req, vault)
        except BaseException as err:
            self._release(held)
            if attempt:
                attempt.close()
            blocked = isinstance(err, SlmError) and err.code == "guard_blocked"
            self._record(original, Decision(REMOTE, reason, signals), attempt, None,
                         "blocked" if blocked else "error")
            raise
        if keep_local:
            self._release(held)
            decision = Decision(LOCAL, f"guard_keep_local: {', '.join(keep_local)} "
                                       f"(wanted remote: {reason})", signals)
            return self._local(req, original, decision, clock, attempt)
        if attempt:
            attempt.close()  # free the local slot while the remote answers
        decision = Decision(REMOTE, reason, signals, masked=len(vault))
        try:
            stream = self.remote.generate(masked)
        except Exception as err:  # noqa: BLE001 - any upstream failure before a byte
            self._release(held)
            return self._upstream_failed(req, original, decision, clock, attempt, err)
        self._announce(original, decision)
        with clock:
            unmasker = self.guard.stream_unmasker(vault)
        return RoutedStream(decision, [], stream, keep_logprobs=original.logprobs is not None,
                            unmasker=unmasker, clock=clock,
                            on_end=self._recorder(original, decision, attempt, held))

    def _reserve(self, req: GenerateRequest) -> tuple[str | None, tuple | None]:
        """(the budget limit reached, or None and the reservation held for this request).
        Escalations in flight count too: the ledger only records a request when it ends,
        so concurrent requests would otherwise all see the same unspent budget. A request
        in flight is counted as its prompt plus ``max_tokens`` until it ends."""
        if self.budget.unlimited:
            return None, None
        prompt = self._local_prompt_tokens(req)
        wanted = req.max_tokens or 0
        held = (1, prompt + wanted, self.prices.cost(self.remote_model, prompt, wanted))
        with self._budget_lock:
            r, t, c = self.ledger.remote_usage_since(self.budget.period_start())
            fr, ft, fc = self._in_flight
            over = self.budget.exhausted(r + fr, t + ft, c + fc)
            if over:
                return over + (f" ({fr} in flight)" if fr else ""), None
            self._in_flight = (fr + 1, ft + held[1], fc + held[2])
        return None, held

    def _release(self, held: tuple | None) -> None:
        if held is None:
            return
        with self._budget_lock:
            fr, ft, fc = self._in_flight
            self._in_flight = (fr - held[0], ft - held[1], max(0.0, fc - held[2]))

    def _upstream_failed(self, req, original, decision: Decision, clock: Stopwatch,
                         attempt: Attempt | None, err: Exception) -> RoutedStream:
        first_line = str(err).splitlines()[0] if str(err) else type(err).__name__
        if self.config.on_upstream_error == "error":
            decision.reason += f"; upstream_error: {first_line}"
            self._record(original, decision, attempt, None, "error")
            raise err
        fallback = Decision(FALLBACK, f"upstream_error: {first_line} (wanted remote: "
                                      f"{decision.reason})", decision.signals)
        return self._local(req, original, fallback, clock, attempt)

    def _mask(self, req: GenerateRequest, vault: Any) -> tuple[GenerateRequest, tuple[str, ...]]:
        """The request as it may leave the site, and the types the policy keeps local."""
        if req.messages is not None:
            messages, keep_local = self.guard.protect_messages(req.messages, vault)
            out = dataclasses.replace(req, messages=messages)
        else:
            text = req.prompt
            if text is None:
                text = self.local.detokenize(req.prompt_tokens)
            p = self.guard.protect(text, vault, where="prompt")
            out = dataclasses.replace(req, prompt=p.text, prompt_tokens=None)
            keep_local = tuple(p.keep_local)
        stops = [self.guard.protect(s, vault, where="stop").text for s in req.stop]
        out = dataclasses.replace(out, stop=stops)
        if req.json_schema is not None:  # enum/const/default/description… carry data too
            schema, local = mask_json(
                req.json_schema, lambda text, where: self.guard.protect(text, vault, where=where))
            out = dataclasses.replace(out, json_schema=schema)
            keep_local = tuple(sorted(set(keep_local) | local))
        return out, keep_local

    # ---- local answers -----------------------------------------------------------------
    def _local(self, req, original, decision: Decision, clock: Stopwatch,
               attempt: Attempt | None = None) -> RoutedStream:
        """Answer locally: go on with the attempt if it is still usable, else start afresh."""
        if attempt is None or attempt.closed:
            wanted = dataclasses.replace(req, logprobs=original.logprobs)
            attempt = Attempt(stream=self.local.generate(wanted))
        return self._stream_local(req, original, decision, clock, attempt)

    def _stream_local(self, req, original, decision: Decision, clock: Stopwatch,
                      attempt: Attempt) -> RoutedStream:
        self._announce(original, decision)
        rest = None if attempt.finished else attempt.stream
        return RoutedStream(decision, attempt.head, rest,
                            keep_logprobs=original.logprobs is not None, clock=clock,
                            on_end=self._recorder(original, decision, None))

    # ---- bookkeeping -----------------------------------------------------------------------
    def _announce(self, request: GenerateRequest, decision: Decision) -> None:
        if self._on_decision is not None:
            self._on_decision(request.id, decision)

    def _recorder(self, request, decision, attempt, held: tuple | None = None):
        def on_end(last, outcome) -> None:
            try:
                self._record(request, decision, attempt, last, outcome)
            finally:  # recorded first, so the request is never counted by neither
                self._release(held)
        return on_end

    def _record(self, request: GenerateRequest, decision: Decision, attempt: Attempt | None,
                last: Chunk | None, outcome: str) -> None:
        u = last.usage if last is not None else None
        e = Entry(route=decision.route, reason=decision.reason, outcome=outcome,
                  request_id=request.id, masked=decision.masked,
                  mean_logprob=decision.signals.get("mean_logprob"),
                  min_logprob=decision.signals.get("min_logprob"),
                  overhead_ms=decision.overhead_ms)
        if decision.route == REMOTE:
            e.remote_model = self.remote_model
            if u is not None:
                e.remote_prompt_tokens = u.prompt_tokens
                e.remote_completion_tokens = u.completion_tokens
                e.remote_cost = self.prices.cost(self.remote_model, u.prompt_tokens,
                                                 u.completion_tokens)
            e.all_remote_cost = e.remote_cost
            if attempt is not None:
                e.local_completion_tokens, e.local_seconds = len(attempt.logprobs), attempt.seconds
        elif u is not None:
            e.local_prompt_tokens, e.local_completion_tokens = u.prompt_tokens, u.completion_tokens
            e.local_seconds = u.prompt_seconds + u.decode_seconds
            e.all_remote_cost = self.prices.cost(self.remote_model, u.prompt_tokens,
                                                 u.completion_tokens)
        self.ledger.record(e)

    def close(self) -> None:
        """Close both engines (when owned) and the ledger; idempotent."""
        if self._owns:
            self.local.close()
            self.remote.close()


def _prompt_text(req: GenerateRequest) -> str:
    """What the difficulty model reads: the last user message, else the prompt."""
    if req.messages is not None:
        users = [m.content for m in req.messages if m.role == "user"]
        return users[-1] if users else ""
    return req.prompt or ""


def _text(chunks: Sequence[Chunk]) -> str:
    return "".join(c.text for c in chunks)
