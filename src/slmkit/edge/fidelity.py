"""Fidelity: does the device run the bundle's model the way it ran where it was built?

At build time the shipped model answers a short fixed text greedily with the top
:data:`TOP` log-probabilities at every step; that reference goes into the bundle
(``fidelity.json``, signed with the rest). On the device, during probation, the new
server answers the same text through ``/v1/completions`` and the two are compared:

- **KLD** (mean over the steps both answers share, the first differing step included):
  at each step the distributions are coarse-grained to the tokens both top lists hold plus
  one "everything else" bucket, and the KL-divergence of that partition is taken. By the
  data-processing inequality it never exceeds the true KL-divergence, so a failure is never
  a false alarm of the estimate; an identical model and runtime gives ~0.
- **ΔPPL**: the perplexity of the device's own greedy answer over the shared steps,
  relative to the reference's, in percent.

A quantization mix-up, a corrupted or different model, a broken runtime build or a wrong
chat/BOS handling all move these numbers; thread count and batch size barely do.
"""

from __future__ import annotations

import json
import math
import urllib.request
from dataclasses import dataclass
from pathlib import Path

TEXT = ("The river carried spring water from the mountains past old mills and orchards into "
        "a wide valley, where a small town had stood for centuries. Every market day, "
        "traders came along the roads that followed the banks, and")
TOKENS = 32
TOP = 20
MIN_STEPS = 4  # fewer shared steps than this cannot say much: the check then fails


@dataclass(frozen=True)
class Step:
    """One generated token: its text, log-probability, and the top alternatives."""

    text: str
    logprob: float
    top: dict[str, float]


@dataclass(frozen=True)
class Fidelity:
    kld: float
    dppl_pct: float
    steps: int
    diverged_at: int | None

    def to_dict(self) -> dict:
        return {"kld": round(self.kld, 5), "dppl_pct": round(self.dppl_pct, 3),
                "steps": self.steps, "diverged_at": self.diverged_at}


def reference(model_path: str, *, text: str = TEXT, n: int = TOKENS) -> dict:
    """The shipped model's greedy answer to ``text`` with its top-:data:`TOP` steps."""
    from slmkit.core.types import GREEDY, GenerateRequest, collect
    from slmkit.models.load import load

    with load(model_path, n_ctx=1024) as engine:
        done = collect(engine.generate(GenerateRequest(prompt=text, max_tokens=n,
                                                       sampling=GREEDY, logprobs=TOP)))
    steps = [[lp.text, lp.logprob, {t.text: t.logprob for t in lp.top}]
             for lp in done.logprobs or []]
    if len(steps) < MIN_STEPS:
        raise ValueError(f"the model answered the fidelity text with {len(steps)} tokens; "
                         f"at least {MIN_STEPS} are needed")
    return {"prompt": text, "max_tokens": n, "top": TOP, "steps": steps}


def steps_of(data: dict) -> list[Step]:
    return [Step(t, float(lp), {k: float(v) for k, v in top.items()})
            for t, lp, top in data["steps"]]


def probe(base_url: str, model: str, ref: dict, timeout: float = 120.0) -> list[Step]:
    """The server's greedy answer to the reference text, with its top log-probabilities."""
    payload = {"model": model, "prompt": ref["prompt"], "max_tokens": ref["max_tokens"],
               "temperature": 0, "seed": 0, "logprobs": ref["top"]}
    req = urllib.request.Request(f"{base_url}/v1/completions", data=json.dumps(payload).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        lp = json.loads(resp.read())["choices"][0]["logprobs"] or {}
    return [Step(t, float(v), {k: float(x) for k, x in top.items()})
            for t, v, top in zip(lp.get("tokens", []), lp.get("token_logprobs", []),
                                 lp.get("top_logprobs", []))]


def compare(ref: list[Step], got: list[Step]) -> Fidelity:
    """KLD and ΔPPL over the steps both answers share (see the module docstring)."""
    klds: list[float] = []
    ref_nll = got_nll = 0.0
    diverged = None
    for i, (r, g) in enumerate(zip(ref, got)):
        klds.append(partition_kld(r.top, g.top))  # same context up to here: comparable
        if r.text != g.text:
            diverged = i
            break
        ref_nll -= r.logprob
        got_nll -= g.logprob
    if diverged is None and len(ref) != len(got):
        diverged = min(len(ref), len(got))
    same = len(klds) - (1 if diverged is not None and diverged < len(klds) else 0)
    dppl = 100.0 * (math.exp((got_nll - ref_nll) / same) - 1.0) if same else math.inf
    return Fidelity(sum(klds) / len(klds) if klds else math.inf, dppl, len(klds), diverged)


def partition_kld(p: dict[str, float], q: dict[str, float]) -> float:
    """KL(P‖Q) over {tokens in both top lists} ∪ {the rest}: a lower bound of the true KL."""
    common = p.keys() & q.keys()
    total = 0.0
    for t in common:
        total += math.exp(p[t]) * (p[t] - q[t])
    p_rest = max(0.0, 1.0 - sum(math.exp(p[t]) for t in common))
    q_rest = max(1e-12, 1.0 - sum(math.exp(q[t]) for t in common))
    if p_rest > 1e-12:
        total += p_rest * math.log(p_rest / q_rest)
    return max(0.0, total)


def check(base_url: str, model: str, ref_path: Path, acceptance: dict) -> tuple[str, dict]:
    """Probe the server and judge against ``max_kld`` / ``max_dppl_pct``; returns the
    reason it failed (``""`` when it passed) and the measured numbers."""
    ref = json.loads(Path(ref_path).read_text(encoding="utf-8"))
    got = compare(steps_of(ref), probe(base_url, model, ref))
    numbers = got.to_dict()
    if got.steps < MIN_STEPS:
        return (f"fidelity: the answers share {got.steps} step(s) (diverged at token "
                f"{got.diverged_at}); a different model or runtime than the bundle's", numbers)
    max_kld, max_dppl = acceptance.get("max_kld"), acceptance.get("max_dppl_pct")
    if max_kld is not None and got.kld > max_kld:
        return (f"fidelity: KL-divergence {got.kld:.4f} > {max_kld:g} against the model the "
                f"bundle was built from ({got.steps} steps)", numbers)
    if max_dppl is not None and abs(got.dppl_pct) > max_dppl:
        return (f"fidelity: perplexity differs by {got.dppl_pct:+.2f}% (limit ±{max_dppl:g}%) "
                f"from the model the bundle was built from", numbers)
    return "", numbers
