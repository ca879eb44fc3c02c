"""Fixtures for the RAG tests: the real packaged embedder (all-MiniLM-L6-v2, pulled once per
machine into the shared test store) and the synthetic corpus ingested once per session."""

from __future__ import annotations

import os

import pytest

from conftest import shared_test_home

EMBEDDER = "all-minilm-l6-v2"


@pytest.fixture(scope="session")
def embedder_ref():
    from filelock import FileLock

    from slmkit.models.store import Store

    home = shared_test_home()
    home.mkdir(parents=True, exist_ok=True)
    with FileLock(str(home / ".test-pull.lock")):
        return Store(home).pull(EMBEDDER)


@pytest.fixture(scope="session")
def onnx_ref(embedder_ref):
    """The int8 ONNX variant (the default embedder of new collections), made once per
    machine from the pulled all-MiniLM-L6-v2 into the shared test store."""
    from filelock import FileLock

    from slmkit.models.store import Store
    from slmkit.rag import embedders

    home = shared_test_home()
    with FileLock(str(home / ".test-onnx-embedder.lock")):
        return embedders.ensure_onnx(Store(home), embedders.DEFAULT)


@pytest.fixture(scope="session")
def embedder(embedder_ref):
    from slmkit.runtime.sentence import SentenceEmbedder

    return SentenceEmbedder(embedder_ref.path, name=EMBEDDER, threads=1)


@pytest.fixture(scope="session")
def wikipedia_passages():
    from slmkit.evaluate import datasets

    old = os.environ.get("SLM_DATA_HOME")
    os.environ["SLM_DATA_HOME"] = str(shared_test_home() / "datasets")
    try:
        return datasets.load_texts(datasets.resolve("wikipedia", kind="text"))
    finally:
        if old is None:
            os.environ.pop("SLM_DATA_HOME", None)
        else:
            os.environ["SLM_DATA_HOME"] = old


@pytest.fixture(scope="session")
def corpus(tmp_path_factory, embedder, wikipedia_passages):
    """(collection home, corpus) — the synthetic corpus (24 identifier entries + 8 prose
    files) ingested into the collection ``qa``."""
    from slmkit.rag.ingest import ingest
    from slmkit.rag.store import Collection
    from slmkit.rag.synthetic import build_corpus

    root = tmp_path_factory.mktemp("rag-corpus")
    c = build_corpus(root, wikipedia_passages, seed=1, n_identifier=24, n_prose_files=8)
    home = root / "home"
    with Collection("qa", home, create=True) as coll:
        report = ingest(coll, [c.folder], embedder)
    assert not report.failed, report.failed
    return home, c
