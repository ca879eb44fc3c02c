"""pytest fixtures shared by the store tests; import them into a test module's namespace."""

from __future__ import annotations

import pytest

from helpers.gguf_builder import build_tiny_gguf
from helpers.wheels import Wheelhouse, pip_env


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory) -> Wheelhouse:
    root = tmp_path_factory.mktemp("wheelhouse")
    gguf_path = build_tiny_gguf(root.parent / "for-wheels.gguf", name="wheeled", file_type=7)
    return Wheelhouse(root / "wheels", gguf_path.read_bytes())


@pytest.fixture
def pip_offline(monkeypatch, wheelhouse) -> Wheelhouse:
    """pip sees only the test wheelhouse; no download cache unless a test sets one."""
    for key, value in pip_env(wheelhouse.root).items():
        monkeypatch.setenv(key, value)
    for key in ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_CONSTRAINT", "SLM_DOWNLOAD_CACHE"):
        monkeypatch.delenv(key, raising=False)
    return wheelhouse
