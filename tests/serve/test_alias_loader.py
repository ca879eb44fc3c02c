"""``serve.prefixed.AliasLoader``: one extra model name served as a base model wrapped (what
`slm serve --route` uses for the model ``auto``), over a fake loader and through HTTP."""

from __future__ import annotations

from dataclasses import replace

import pytest
from fastapi.testclient import TestClient

from helpers.fake_engine import FakeLocal
from helpers.fake_server import FakeLoader, fake_app
from helpers.serve_app import BASE_URL
from slmkit.core.engine import ModelInfo
from slmkit.serve.prefixed import AliasLoader


class InfoLoader(FakeLoader):
    """A FakeLoader whose listing carries model facts, as the store loader's does."""

    def available(self):
        return [replace(a, info=ModelInfo(name=a.name, architecture="llama"))
                for a in super().available()]


def wrapped(engine):
    engine.info = replace(engine.info, name="auto")
    engine.wrapped = True
    return engine


def test_alias_resolves_loads_and_lists_the_wrapped_base():
    inner = InfoLoader({"base": lambda: FakeLocal(name="base"), "other": FakeLocal},
                       memory={"base": 1234})
    loader = AliasLoader(inner, "auto", "base", wrapped, architecture="routed")
    spec = loader.resolve("auto")
    assert (spec.name, spec.memory_bytes) == ("auto", 1234)
    engine = loader.load(spec).engine
    assert engine.wrapped and inner.last("base") is engine
    assert loader.resolve("other").name == "other"
    assert not hasattr(loader.load(loader.resolve("other")).engine, "wrapped")
    listed = {a.name: a for a in loader.available()}
    assert set(listed) == {"base", "other", "auto"}
    assert listed["auto"].info.architecture == "routed"
    assert listed["auto"].size_bytes == listed["base"].size_bytes


def test_a_failing_wrap_closes_the_base_engine():
    inner = FakeLoader({"base": FakeLocal})

    def broken(engine):
        raise ValueError("upstream misconfigured")

    loader = AliasLoader(inner, "auto", "base", broken)
    with pytest.raises(ValueError, match="upstream misconfigured"):
        loader.load(loader.resolve("auto"))
    assert inner.last("base").closed


def test_alias_is_served_over_http():
    inner = FakeLoader({"base": FakeLocal})
    app, _ = fake_app(AliasLoader(inner, "auto", "base", wrapped, architecture="routed"))
    with TestClient(app, base_url=BASE_URL) as client:
        names = [m["id"] for m in client.get("/v1/models").json()["data"]]
        assert "auto" in names and "base" in names
        r = client.post("/v1/chat/completions", json={
            "model": "auto", "messages": [{"role": "user", "content": "hi"}],
            "max_tokens": 4})
        assert r.status_code == 200, r.text
        assert r.json()["model"] == "auto"
    assert inner.last("base").wrapped
