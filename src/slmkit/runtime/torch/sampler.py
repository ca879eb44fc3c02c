"""Token sampling in torch with llama.cpp's semantics (see runtime/llamacpp/sampler.py).

The chain and its order are llama.cpp's defaults: penalties → top-k → top-p → min-p →
temperature → draw; greedy requests apply the penalties, then take the argmax. The
filters act on temperature-1 probabilities, exactly as llama.cpp's do, so one
``SamplingParams`` means the same thing on both engines. Only the random stream differs
(llama.cpp draws with its own RNG): a fixed seed reproduces the output on this engine.
"""

from __future__ import annotations

import collections
import secrets

from slmkit.core.types import SamplingParams


class TorchSampler:
    """Samples one sequence's tokens from rows of logits; remembers what it accepted
    (the repeat penalty looks at the last ``repeat_last_n`` generated tokens)."""

    def __init__(self, params: SamplingParams) -> None:
        import torch

        self.params = params
        self.seed = params.seed if params.seed is not None else secrets.randbits(31)
        self._gen = torch.Generator().manual_seed(self.seed)
        n = params.repeat_last_n
        self._recent: collections.deque[int] = collections.deque(maxlen=n if n > 0 else None)

    def sample(self, logits) -> int:
        """Choose the next token from a 1-D float tensor of logits and accept it."""
        import torch

        p = self.params
        x = self._penalize(logits.float())
        if p.greedy:
            token = int(torch.argmax(x))
        else:
            token = self._draw(x)
        self.accept(token)
        return token

    def accept(self, token: int) -> None:
        if self.params.repeat_last_n != 0:
            self._recent.append(token)

    def _penalize(self, x):
        import torch

        p = self.params
        if p.repeat_penalty == 1.0 or not self._recent:
            return x
        ids = torch.tensor(sorted(set(self._recent)), dtype=torch.long)
        vals = x[ids]
        x = x.clone()
        x[ids] = torch.where(vals <= 0, vals * p.repeat_penalty, vals / p.repeat_penalty)
        return x

    def _draw(self, x) -> int:
        import torch

        p = self.params
        k = p.top_k if 0 < p.top_k < x.numel() else x.numel()
        vals, ids = torch.topk(x, k)  # sorted, best first
        if p.top_p < 1.0:
            probs = torch.softmax(vals, dim=0)
            cum = torch.cumsum(probs, dim=0)
            # keep up to and including the first token where the mass reaches top_p
            keep = int(torch.searchsorted(cum, torch.tensor([p.top_p], dtype=cum.dtype))) + 1
            n = max(1, min(keep, vals.numel()))
            vals, ids = vals[:n], ids[:n]
        if p.min_p > 0.0:
            floor = vals[0] + torch.log(torch.tensor(p.min_p, dtype=vals.dtype))
            n = max(1, int((vals >= floor).sum()))
            vals, ids = vals[:n], ids[:n]
        probs = torch.softmax(vals / p.temperature, dim=0)
        return int(ids[torch.multinomial(probs, 1, generator=self._gen)])
