"""Fixtures for the evaluation tests: a fake language model with known distributions, and
the shared data directory (downloaded datasets are kept once per machine)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from slmkit.core.engine import Capabilities, ModelInfo
from slmkit.core.types import TokenLogprob


class FakeLM:
    """A bigram model over bytes: token = byte % n_vocab, next-token logits = table[token].

    Everything about it is known exactly, so PPL and KLD can be checked by hand."""

    def __init__(self, n_vocab: int = 64, *, seed: int = 0, noise: float = 0.0,
                 bos: int | None = None, n_ctx: int = 512, with_logits: bool = True) -> None:
        rng = np.random.default_rng(seed)
        self.table = rng.normal(size=(n_vocab, n_vocab)) * 3
        if noise:
            self.table = self.table + np.random.default_rng(seed + 100).normal(
                size=self.table.shape) * noise
        self.table = self.table.astype(np.float32)
        self.bos, self.calls = bos, 0
        self.info = ModelInfo(name="fake", n_vocab=n_vocab, n_ctx=n_ctx,
                              capabilities=Capabilities(logits=with_logits))

    def tokenize(self, text: str, *, add_special: bool = True) -> list[int]:
        ids = [b % self.info.n_vocab for b in text.encode()]
        return ([self.bos] if add_special and self.bos is not None else []) + ids

    def logits(self, tokens: Sequence[int], *, first: int = 0) -> np.ndarray:
        self.calls += 1
        return self.table[list(tokens)[first:]]

    def logprob_rows(self, tokens: Sequence[int]) -> np.ndarray:
        x = self.table[list(tokens)].astype(np.float64)
        return x - np.log(np.exp(x - x.max(1, keepdims=True)).sum(1, keepdims=True)) \
            - x.max(1, keepdims=True)

    def token_logprobs(self, tokens: Sequence[int], *, top: int = 0) -> list[TokenLogprob]:
        rows = self.logprob_rows(tokens[:-1])
        return [TokenLogprob(t, "", float(rows[i, t])) for i, t in enumerate(tokens[1:])]

    def close(self) -> None:
        pass


@pytest.fixture
def fake_lm():
    return FakeLM


def shared_test_home() -> Path:
    return Path(os.environ.get("SLM_TEST_HOME", Path.home() / ".cache/slmkit/test-home"))


@pytest.fixture(scope="module")
def shared_data(tmp_path_factory):
    """Datasets and KLD caches under the shared test home (downloads happen once per
    machine); the KLD cache is per run."""
    mp = pytest.MonkeyPatch()
    mp.setenv("SLM_DATA_HOME", str(shared_test_home() / "datasets"))
    mp.setenv("SLM_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))
    yield shared_test_home() / "datasets"
    mp.undo()
