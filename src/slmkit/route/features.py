"""Prompt features that carry the *kind* and *level* of a request, for the prompt router.

Hashed n-grams of the whole prompt (`route.difficulty.HashedFeatures`) are dominated by
its bulk: in a reading-comprehension prompt the passage outweighs the question, so two
prompts asking different things about similar passages look alike, and the router cannot
tell "where does X live?" from "who is older?" — the question type that decides whether
the small model can answer. ``AskFeatures`` adds, in the same fixed-size vector:

- the n-grams of the **ask** (the last sentence ending in ``?``, else the first line)
  in a namespace of their own, at half the weight of the whole prompt's (when the ask is
  not the whole prompt);
- **structure counts** (log-scaled, in reserved slots at the end): lines, code lines,
  loops, slices, calls and their nesting depth, numbers and the largest one, capitalised
  names, sentences, the ask's length.

Deterministic (CRC-32 buckets), numpy only, well under a millisecond per prompt.
"""

from __future__ import annotations

import math
import re
import zlib

import numpy as np

from slmkit.route.difficulty import VectorFeaturizer, ngrams

CODE_RE = re.compile(r"```[^\n]*\n(.*?)```", re.S)
NUM_RE = re.compile(r"\d+(?:\.\d+)?")
# no "[" inside, so a run of "[" cannot make the search quadratic
SLICE_RE = re.compile(r"\[[^\[\]\n]*:[^\[\]\n]*\]")
MAX_CHARS = 20_000  # structure is counted on the prompt's first this many characters
STRUCTURE = ("lines", "code_lines", "loops", "slices", "calls", "call_depth", "numbers",
             "max_number", "names", "sentences", "ask_words", "defs")


def ask(text: str) -> str:
    """The request's question: its last sentence ending in ``?`` (looked for in the last
    :data:`MAX_CHARS` characters), else its first line."""
    tail = text[-MAX_CHARS:]
    end = tail.rfind("?")
    while end >= 0:
        start = max(tail.rfind(c, 0, end) for c in ".?!\n") + 1
        if tail[start:end].strip(" ?"):
            return tail[start:end + 1].strip()
        end = start - 1 if start > 0 and tail[start - 1] == "?" else tail.rfind("?", 0, start)
    return next((line.strip() for line in text[:MAX_CHARS].splitlines() if line.strip()), "")


def _depth(code: str) -> int:
    depth = best = 0
    for ch in code:
        if ch == "(":
            depth += 1
            best = max(best, depth)
        elif ch == ")":
            depth = max(0, depth - 1)
    return best


def structure(text: str) -> dict[str, float]:
    """Counts that tell a snippet's or passage's level (see :data:`STRUCTURE`), over the
    first :data:`MAX_CHARS` characters (bounded time on any prompt)."""
    text = text[:MAX_CHARS]
    code = "\n".join(CODE_RE.findall(text))
    nums = [float(n) for n in NUM_RE.findall(text)]
    q = ask(text)
    return {
        "lines": sum(1 for line in text.splitlines() if line.strip()),
        "code_lines": sum(1 for line in code.splitlines() if line.strip()),
        "loops": len(re.findall(r"\b(?:for|while)\b", code)),
        "slices": len(SLICE_RE.findall(code)),
        "calls": len(re.findall(r"\w\s*\(", code)),
        "call_depth": _depth(code),
        "numbers": len(nums),
        "max_number": max(nums, default=0.0),
        "names": len(set(re.findall(r"\b[A-Z][a-z]+\b", text))),
        "sentences": len(re.findall(r"[.?!](?:\s|$)", text)),
        "ask_words": len(q.split()),
        "defs": len(re.findall(r"\b(?:def|lambda|class)\b", code)),
    }


class AskFeatures(VectorFeaturizer):
    """Hashed n-grams of the prompt and, apart, of its ask, plus structure counts."""

    ask_weight = 0.5  # the ask's block against the whole prompt's
    structure_scale = 0.2  # log1p(count) times this: larger made p(hard) fits drift

    def __init__(self, dimension: int = 4096) -> None:
        if dimension < 64:
            raise ValueError("dimension must be >= 64")
        self.dimension = dimension
        self.name = f"ask-ngrams/{dimension}"
        self._hashed = dimension - len(STRUCTURE) - 1  # the last slot: length

    def _block(self, grams: list[str]) -> np.ndarray:
        buckets = [zlib.crc32(g.encode("utf-8", "surrogatepass")) % self._hashed
                   for g in grams]
        v = np.log1p(np.bincount(np.array(buckets, np.int64), minlength=self._hashed)
                     .astype(np.float32))
        norm = float(np.linalg.norm(v))
        return v / norm if norm else v

    def vector(self, text: str) -> np.ndarray:
        """One prompt's features (the whole prompt and its ask weigh alike)."""
        v = np.zeros(self.dimension, np.float32)
        grams = self._block(ngrams(text))
        q = ask(text)
        if q != text.strip():  # a prompt that is all ask has nothing to set apart
            grams = grams + self.ask_weight * self._block(ngrams(q, "q:"))
        v[:self._hashed] = grams / max(float(np.linalg.norm(grams)), 1e-12)
        counts = structure(text)
        v[self._hashed:-1] = [math.log1p(counts[k]) * self.structure_scale for k in STRUCTURE]
        v[-1] = math.log1p(len(text)) / 10.0
        return v
