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
