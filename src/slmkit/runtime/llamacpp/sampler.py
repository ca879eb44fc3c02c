"""llama.cpp sampler chains built from ``SamplingParams`` (sampling runs in C, not Python)."""

from __future__ import annotations

import secrets

from slmkit.core.types import SamplingParams


def _lib():
    from slmkit.runtime.llamacpp.bindings import bindings

    return bindings()


class GrammarError(ValueError):
    """A GBNF grammar llama.cpp refused to parse, or a JSON schema it cannot express."""


def grammar_for(request) -> str | None:
    """The GBNF grammar a request asks for: its own, or one compiled from its JSON schema."""
    if request.json_schema is None:
        return request.grammar
    import json

    from llama_cpp.llama_grammar import json_schema_to_gbnf

    schema = request.json_schema or {"type": "object"}
    try:
        grammar = json_schema_to_gbnf(json.dumps(schema))
    except Exception as err:  # the converter raises bare Exceptions/KeyErrors on bad schemas
        raise GrammarError(f"unsupported JSON schema: {err}") from err
    return grammar.replace(_LOOSE_CHAR, _JSON_CHAR)


# llama-cpp-python's converter lets a string hold raw control characters (a newline, a tab),
# which JSON forbids; llama.cpp's own converter excludes them, as here.
_LOOSE_CHAR = 'char ::= [^"\\\\] |'
_JSON_CHAR = 'char ::= [^"\\\\\\x7F\\x00-\\x1F] |'


class Sampler:
    """An owned llama.cpp sampler chain for one sequence.

    Order follows llama.cpp's defaults: grammar → penalties → top-k → top-p → min-p →
    temperature → draw. Greedy requests end in argmax instead of the draw.
    """

    def __init__(self, vocab, n_vocab: int, params: SamplingParams, *,
                 grammar: str | None = None) -> None:
        lib = _lib()
        self._n_vocab = n_vocab
        self.seed = params.seed if params.seed is not None else secrets.randbits(31)
        self._chain = lib.llama_sampler_chain_init(lib.llama_sampler_chain_default_params())
        try:
            if grammar:
                self._add_grammar(vocab, grammar)
            self._add_filters(params)
        except BaseException:
            self.close()
            raise

    def _add_grammar(self, vocab, grammar: str) -> None:
        smpl = _lib().llama_sampler_init_grammar(vocab, grammar.encode(), b"root")
        if not smpl:
            raise GrammarError("the grammar could not be parsed (GBNF with a `root` rule expected)")
        self._add(smpl)

    def _add_filters(self, p: SamplingParams) -> None:
        lib = _lib()
        if p.repeat_penalty != 1.0:
            self._add(lib.llama_sampler_init_penalties(
                self._n_vocab, p.repeat_last_n, p.repeat_penalty, 0.0, 0.0))
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
