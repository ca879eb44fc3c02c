"""What a router can read from the local model's answer (post-answer signals).

``observe`` asks an engine once greedily (tokens with their top alternatives) and ``k``
times more at a temperature (cheap: the prompt is already in the engine's cache), and
``post_features`` turns that into numbers: mean/min/first-token log-probability, answer
length, mean/max entropy of the next-token distribution (over the top alternatives plus
the rest of the mass), and self-consistency — the share of samples giving the greedy
answer (normalised: the first number, else the first line's words).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

from slmkit.core.types import ChatMessage, GenerateRequest, SamplingParams, collect

NUMBER_RE = re.compile(r"-?\d[\d,]*(?:\.\d+)?")
POST_FEATURES = ("mean_logprob", "min_logprob", "first_logprob", "n_tokens", "mean_entropy",
                 "max_entropy", "consistency")


@dataclass
class Observation:
    """The local model's greedy answer with its token log-probabilities and entropies,
    and ``samples``: the answers drawn at a temperature."""

    text: str
    logprobs: list[float] = field(default_factory=list)
    entropies: list[float] = field(default_factory=list)
    samples: list[str] = field(default_factory=list)
    seconds: float = 0.0
    sample_seconds: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> Observation:
        return cls(**{k: d[k] for k in ("text", "logprobs", "entropies", "samples",
                                        "seconds", "sample_seconds") if k in d})


def entropy(top: Sequence[float]) -> float:
    """Entropy (nats) of a distribution known by its top log-probabilities; the mass left
    over is counted as one more outcome (a lower bound on the true entropy)."""
    ps = [math.exp(x) for x in top]
    rest = max(0.0, 1.0 - sum(ps))
    return -sum(p * math.log(p) for p in ps + [rest] if p > 0)


def _request(prompt: str, chat: bool, max_tokens: int, logprobs: int | None,
             sampling: SamplingParams) -> GenerateRequest:
    text = {"messages": [ChatMessage("user", prompt)]} if chat else {"prompt": prompt}
    return GenerateRequest(**text, max_tokens=max_tokens, logprobs=logprobs,
                           sampling=sampling, timeout=300.0)


def observe(engine, prompt: str, *, chat: bool = True, max_tokens: int = 12, top: int = 5,
            samples: int = 0, temperature: float = 0.7, seed: int = 1) -> Observation:
    """Greedy answer (with ``top`` alternatives per token) and ``samples`` sampled ones."""
    import time

    t0 = time.perf_counter()
    out = collect(engine.generate(_request(prompt, chat, max_tokens, top,
                                           SamplingParams(temperature=0.0))))
    toks = out.logprobs or []
    obs = Observation(out.text, [t.logprob for t in toks],
                      [entropy([a.logprob for a in t.top] or [t.logprob]) for t in toks])
    obs.seconds = time.perf_counter() - t0
    t1 = time.perf_counter()
    for i in range(samples):
        s = SamplingParams(temperature=temperature, seed=seed + i)
        obs.samples.append(collect(engine.generate(
            _request(prompt, chat, max_tokens, None, s))).text)
    obs.sample_seconds = time.perf_counter() - t1
    return obs


def normalize(text: str) -> str:
    """The answer's key for agreement: its first number, else its first line's words."""
    m = NUMBER_RE.search(text)
    if m:
        return m.group().replace(",", "")
    first = next((line for line in text.splitlines() if line.strip()), "")
    return " ".join(re.sub(r"[^\w ]", " ", first.lower()).split())


def post_features(obs: Observation) -> dict[str, float]:
    """The numbers a router can judge the local answer by (see the module docstring)."""
    lps = obs.logprobs or [-10.0]
    ents = obs.entropies or [0.0]
    key = normalize(obs.text)
    agree = (sum(normalize(s) == key for s in obs.samples) / len(obs.samples)
             if obs.samples else 1.0)
    return {"mean_logprob": sum(lps) / len(lps), "min_logprob": min(lps),
            "first_logprob": lps[0], "n_tokens": math.log1p(len(obs.logprobs)),
            "mean_entropy": sum(ents) / len(ents), "max_entropy": max(ents),
            "consistency": agree}



def _key(model: str, prompt: str, chat: bool, samples: int) -> str:
    return hashlib.sha256(f"{model}\0{chat}\0{samples}\0{prompt}".encode()).hexdigest()[:32]


def read_cache(cache: str) -> dict[str, Observation]:
    """Observations in a cache file by key (a line cut short by an interrupted run is
    skipped)."""
    known: dict[str, Observation] = {}
    if os.path.exists(cache):
        with open(cache, encoding="utf-8") as f:
            for line in f:
                try:
                    rec = json.loads(line)
                    known[rec["key"]] = Observation.from_dict(rec["obs"])
                except (ValueError, KeyError, TypeError):
                    continue
    return known


def cached(prompts: Sequence[tuple[str, bool]], *, cache: str, model: str,
           samples: int = 0) -> list[Observation | None]:
    """What :func:`observe_all` stored for each ``(prompt, chat)`` (None: not yet)."""
    known = read_cache(cache)
    return [known.get(_key(model, p, chat, samples)) for p, chat in prompts]


def observe_all(engine, prompts: Sequence[tuple[str, bool]], *, cache: str, model: str,
                samples: int = 0, progress=None) -> list[Observation]:
    """:func:`observe` for each ``(prompt, chat)``, resumable: observations already in
    ``cache`` (JSONL, keyed by model, prompt and sample count) are reused, new ones
    appended as they come."""
    known = read_cache(cache)
    out = []
    for i, (p, chat) in enumerate(prompts):
        k = _key(model, p, chat, samples)
        if k not in known:
            known[k] = observe(engine, p, chat=chat, samples=samples)
            with open(cache, "a", encoding="utf-8") as f:
                f.write(json.dumps({"key": k, "obs": known[k].to_dict()},
                                   ensure_ascii=False) + "\n")
        out.append(known[k])
        if progress:
            progress(i + 1, len(prompts))
    return out
