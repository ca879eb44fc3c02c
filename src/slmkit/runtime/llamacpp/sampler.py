"""llama.cpp sampler chains built from ``SamplingParams`` (sampling runs in C, not Python)."""

from __future__ import annotations

import dataclasses
import secrets

from slmkit.core.types import SamplingParams
from slmkit.runtime.llamacpp.grammar import (GrammarError, check_size, schema_to_gbnf,
                                             tool_call_triggers, tool_calls_gbnf)

__all__ = ["GrammarError", "Sampler", "bounded", "grammar_for", "triggers_for"]


def _lib():
    from slmkit.runtime.llamacpp.bindings import bindings

    return bindings()


def grammar_for(request) -> str | None:
    """The GBNF grammar a request asks for: its own, or one compiled from its JSON schema
    (both bounded in size, see :mod:`.grammar`)."""
    if request.tool_calls is not None:
        return tool_calls_gbnf(request.tool_calls)
    if request.json_schema is None:
        return check_size(request.grammar) if request.grammar else request.grammar
    return schema_to_gbnf(request.json_schema)


def triggers_for(request) -> tuple[str, ...]:
    """The patterns that switch a lazy grammar on (none: the grammar holds from the start)."""
    tc = request.tool_calls
    return tool_call_triggers(tc) if tc is not None and tc.lazy else ()


def bounded(params: SamplingParams, n_ctx: int) -> SamplingParams:
    """``params`` with ``repeat_last_n`` clamped to ``n_ctx`` (llama.cpp allocates a ring
    buffer of that many tokens; ``-1`` means the whole context, as in llama.cpp)."""
    n = params.repeat_last_n
    if 0 <= n <= n_ctx:
        return params
    return dataclasses.replace(params, repeat_last_n=n_ctx)


class Sampler:
    """An owned llama.cpp sampler chain for one sequence.

    Order follows llama.cpp's defaults: grammar → penalties → top-k → top-p → min-p →
    temperature → draw. Greedy requests end in argmax instead of the draw.
    """

    def __init__(self, vocab, n_vocab: int, params: SamplingParams, *,
                 grammar: str | None = None, triggers: tuple[str, ...] = ()) -> None:
        lib = _lib()
        self._n_vocab = n_vocab
        self.seed = params.seed if params.seed is not None else secrets.randbits(31)
        self._chain = lib.llama_sampler_chain_init(lib.llama_sampler_chain_default_params())
        try:
            if grammar:
                self._add_grammar(vocab, grammar, triggers)
            self._add_filters(params)
        except BaseException:
            self.close()
            raise

    def _add_grammar(self, vocab, grammar: str, triggers: tuple[str, ...]) -> None:
        lib = _lib()
        if triggers:  # lazy: free text until a trigger; the grammar matches from it on
            import ctypes

            patterns = [t.encode() for t in triggers]
            arr = (ctypes.c_char_p * len(patterns))(*patterns)
            smpl = lib.llama_sampler_init_grammar_lazy_patterns(
                vocab, grammar.encode(), b"root", arr, len(patterns), None, 0)
        else:
            smpl = lib.llama_sampler_init_grammar(vocab, grammar.encode(), b"root")
        if not smpl:
            raise GrammarError("llama.cpp could not parse the grammar (GBNF with a `root` "
                               "rule expected; for a JSON schema: simplify it)")
        self._add(smpl)

    def _add_filters(self, p: SamplingParams) -> None:
        lib = _lib()
        if p.repeat_penalty != 1.0 or p.frequency_penalty or p.presence_penalty:
            self._add(lib.llama_sampler_init_penalties(
                self._n_vocab, p.repeat_last_n, p.repeat_penalty, p.frequency_penalty,
                p.presence_penalty))
        if p.greedy:
            self._add(lib.llama_sampler_init_greedy())
            return
        if p.top_k > 0:
            self._add(lib.llama_sampler_init_top_k(p.top_k))
        if p.top_p < 1.0:
            self._add(lib.llama_sampler_init_top_p(p.top_p, 1))
        if p.min_p > 0.0:
            self._add(lib.llama_sampler_init_min_p(p.min_p, 1))
        self._add(lib.llama_sampler_init_temp(p.temperature))
        self._add(lib.llama_sampler_init_dist(self.seed))

    def _add(self, smpl) -> None:
        _lib().llama_sampler_chain_add(self._chain, smpl)

    def sample(self, ctx, index: int) -> int:
        """Sample from output row ``index`` of the last decode and accept the token."""
        return _lib().llama_sampler_sample(self._chain, ctx, index)

    def close(self) -> None:
        if self._chain is not None:
            _lib().llama_sampler_free(self._chain)
            self._chain = None

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass
