"""Shared pieces of the edge tests: keys, a tiny GGUF, golden files, bundles."""

from __future__ import annotations

import json
from pathlib import Path

from helpers.gguf_builder import build_tiny_gguf


def make_keys(tmp: Path, name: str = "signing.key") -> tuple[Path, Path]:
    from slmkit.edge import keys

    return keys.generate(tmp / "keys" / name)


def tiny_model(tmp: Path) -> Path:
    path = tmp / "tiny.gguf"
    if not path.exists():
        build_tiny_gguf(path)
    return path


def write_golden(path: Path, items: list[dict]) -> Path:
    path.write_text("".join(json.dumps(i) + "\n" for i in items))
    return path


def build_bundle(tmp: Path, key: Path, version: str, *, model: Path | str | None = None,
                 store=None, **spec) -> Path:
    from slmkit.edge.bundle import BundleSpec, build
    from slmkit.models.store import Store

    out = tmp / f"b-{version}.slmb"
    build(BundleSpec(model=str(model or tiny_model(tmp)), version=version, **spec), key, out,
          store=store or Store(tmp / "home"))
    return out


def agent_for(tmp: Path, repo: Path, pub: Path, **kw):
    from slmkit.edge.agent import Agent, AgentConfig

    return Agent(AgentConfig(repo=str(repo), public_key=str(pub), device_dir=tmp / "device",
                             device_id=kw.pop("device_id", "dev-test"), **kw))


FACT = "The plant code word is heliotrope. Valve V-220 must be closed before draining tank T-9."


def rag_home(root: Path) -> Path:
    """An SLM_HOME sharing the test store's models (the embedder made once per machine)
    with its own ``rag/`` holding the collection ``docs`` (one document, :data:`FACT`)."""
    import os
    import shutil

    from conftest import shared_test_home
    from filelock import FileLock

    from slmkit.models.store import Store
    from slmkit.rag import embedders

    shared = shared_test_home()
    shared.mkdir(parents=True, exist_ok=True)
    with FileLock(str(shared / ".test-pull.lock")):
        Store(shared).pull("all-minilm-l6-v2")
    with FileLock(str(shared / ".test-onnx-embedder.lock")):
        embedders.ensure_onnx(Store(shared), embedders.DEFAULT)
    home = root / "home"
    (home / "manifests").mkdir(parents=True)
    os.symlink(shared / "blobs", home / "blobs")
    for m in (shared / "manifests").glob("*.json"):
        shutil.copy(m, home / "manifests" / m.name)
    from slmkit.rag.service import RagService

    svc = RagService(lambda name: embedders.load(name, pull_missing=False, store=Store(home)),
                     home=home)
    svc.ingest_texts("docs", [{"name": "plant.txt", "text": FACT}])
    return home
