"""Speculative decoding with a draft model: a smaller (or more quantized) model with the
same vocabulary proposes the next tokens greedily; the target verifies them in one batched
decode exactly as it verifies prompt-lookup drafts (:mod:`.speculate`), so the output is
the target's own — the draft only changes how many tokens each target decode yields.

Pairs that share a tokenizer: a family's small and large sizes (SmolLM2 135M → 1.7B,
Qwen2.5 0.5B → 7B, Gemma 3 270M → 12B), or the same model at two precisions (a Q4 file
drafting for the Q8_0/F16 one: nearly every draft is accepted and the draft reads a quarter
of the bytes). :func:`check_pair` refuses files whose vocabularies differ.

The draft keeps one KV sequence per target slot. Before each proposal it trims its cache to
the longest prefix it shares with the target's history (prompt + emitted tokens), feeds
the rest in one batch, then decodes ``k`` tokens one at a time; its proposals are never
kept in its cache beyond that call's last one, so rejected drafts cost nothing later.
"""

from __future__ import annotations

from slmkit.core.errors import InvalidModelFileError
from slmkit.runtime.llamacpp.model import ContextOptions, LlamaModel
from slmkit.runtime.llamacpp.speculate import Speculator
from slmkit.util.text import common_prefix

VOCAB_PROBE = "Draft models must split text like their target: 안녕하세요, def f(x): return x**2 # ok"


class DraftModel:
    """The draft GGUF, one KV sequence per target slot. Used from the scheduler's thread."""

    def __init__(self, path: str, *, n_slots: int, n_ctx_slot: int, n_threads: int = 0,
                 n_gpu_layers: int = 0, flash_attn: bool = False) -> None:
        self.path = path
        self.model = LlamaModel(path, ContextOptions(
            n_ctx=n_ctx_slot * n_slots, n_batch=min(512, n_ctx_slot), n_seq_max=n_slots,
            n_threads=n_threads, flash_attn=flash_attn), n_gpu_layers=n_gpu_layers)
        if not self.model.can_rollback:
            self.model.close()
            raise InvalidModelFileError(f"{path} cannot be a draft model: its cache cannot drop "
                                        "rejected tokens (a recurrent or hybrid model)")
        self.cached: list[list[int]] = [[] for _ in range(n_slots)]

    def propose(self, seq_id: int, history: list[int], k: int) -> list[int]:
        """Up to ``k`` greedy tokens that follow ``history`` (the target's tokens so far)."""
        if k <= 0 or not history:
            return []
        m, cached = self.model, self.cached[seq_id]
        keep = min(common_prefix(cached, history), len(history) - 1)
        if keep < len(cached) and not m.forget(seq_id, keep):
            m.forget(seq_id, 0)
            keep = 0
        del cached[keep:]
        self._feed(seq_id, history[keep:], start=keep)
        cached.extend(history[keep:])
        out: list[int] = []
        while True:
            token = int(m.logits(-1).argmax())
            if m.is_eog(token):
                break
            out.append(token)
            if len(out) == k:
                break
            m.decode([(token, len(cached), seq_id, True)])
            cached.append(token)
        return out

    def _feed(self, seq_id: int, tokens: list[int], start: int) -> None:
        step = self.model.n_batch
        for i in range(0, len(tokens), step):
            piece = tokens[i:i + step]
            last = i + len(piece) == len(tokens)
            self.model.decode([(t, start + i + j, seq_id, last and j == len(piece) - 1)
                               for j, t in enumerate(piece)])

    def close(self) -> None:
        self.model.close()


def check_pair(target: LlamaModel, draft: LlamaModel) -> None:
    """Refuse a draft whose vocabulary differs from the target's (its tokens would mean
    other text): the same size, the same special tokens and the same split of a probe."""
    same = (target.n_vocab == draft.n_vocab and target.eos == draft.eos
            and target.tokenize(VOCAB_PROBE, add_special=True)
            == draft.tokenize(VOCAB_PROBE, add_special=True))
    if not same:
        raise InvalidModelFileError(
            f"the draft model {draft.path} does not share the target's vocabulary "
            f"({draft.n_vocab} tokens vs {target.n_vocab})",
            hint="use a model of the same family and tokenizer (e.g. a smaller size, or the "
                 "same model quantized further)")


class DraftSpeculator(Speculator):
    """A request's drafting from a :class:`DraftModel` instead of the n-gram index (whose
    token history it keeps); the draft length adapts as for prompt lookup, and auto mode
    pauses drafting when too few proposals are accepted."""

    def __init__(self, prompt: list[int], draft: DraftModel, mode: str = "auto") -> None:
        super().__init__(prompt, mode)
        self.source = draft

    def propose(self, k: int, seq_id: int) -> list[int]:
        return self.source.propose(seq_id, self.index.tokens, k)
