"""``slmkit.assemble``: `slm serve` as a library call — ServerConfig's checks and defaults,
and ``compose`` wiring the apps, the guard and RAG over a fake model, served in-process."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from helpers.fake_engine import FakeLocal
from helpers.fake_server import FakeLoader
from slmkit.assemble import ServerConfig, compose
from slmkit.models.upstream import Upstream

LOOPBACK = "http://127.0.0.1:8000"


@pytest.fixture
def home(tmp_path, monkeypatch):
    from slmkit import settings as S

    for name in S.ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SLM_HOME", str(tmp_path))
    return tmp_path


class CliLoader(FakeLoader):
    """A FakeLoader that takes the store loader's ``from_cli`` and ``adapters``."""

    adapters = None

    def resolve(self, name, **kw):
        return super().resolve(name or "fake")


def test_gpu_layers_reach_the_engine_only_when_asked_for(home, monkeypatch):
    from slmkit.assemble.server import load_options

    assert load_options(ServerConfig(models=["m"])).engine_options() == {}
    assert load_options(ServerConfig(models=["m"], gpu_layers=-1)).engine_options() == {
        "n_gpu_layers": -1}
    monkeypatch.setenv("SLM_GPU_LAYERS", "12")
    assert load_options(ServerConfig(models=["m"])).n_gpu_layers == 12
    assert load_options(ServerConfig(models=["m"], draft="small")).engine_options() == {
        "n_gpu_layers": 12, "draft": "small"}


def test_unset_options_come_from_the_settings(home):
    (home / "config.toml").write_text("[serve]\nport = 9001\n", encoding="utf-8")
    c = ServerConfig(models=["m"], queue=3)
    assert (c.host, c.port, c.queue, c.parallel) == ("127.0.0.1", 9001, 3, 4)
    assert c.api_key == [] and c.rag == [] and c.upstream == Upstream()


@pytest.mark.parametrize(("given", "message"), [
    ({"parallel": 0}, "--parallel"),
    ({"upstream": Upstream("http://x/v1", model="big")}, "need --route"),
    ({"difficulty": "d.npz"}, "need --route"),
    ({"route": "small"}, "--route needs --upstream"),
    ({"route": "small", "upstream": Upstream("http://x/v1")}, "--upstream-model"),
    ({"route": "auto", "upstream": Upstream("http://x/v1", model="big")}, "'auto'"),
])
def test_options_that_do_not_fit_are_refused_before_binding(home, given, message):
    with pytest.raises(ValueError, match=message):
        ServerConfig(**given).check()
    ServerConfig(route="small", upstream=Upstream("bedrock:anthropic.claude")).check()


def test_compose_serves_models_apps_and_the_guard_in_process(home):
    from slmkit.serve.server import build_app

    loader = CliLoader({"fake": lambda: FakeLocal(name="fake")})
    config = ServerConfig(models=["fake"], memory_budget=0, guard_policy="EMAIL=block")
    registry, specs, options = compose(config, base_loader=loader)
    assert [s.name for s in specs] == ["fake"] and options.memory_budget is None
    with TestClient(build_app(registry, specs, options), base_url=LOOPBACK) as http:
        assert "fake" in [m["id"] for m in http.get("/v1/models").json()["data"]]
        apps = [a["name"] for a in http.get("/v1/apps").json()["data"]]
        assert {"summarize", "code/review", "code/ask"} <= set(apps)
        found = http.post("/v1/guard/scan", json={"text": "mail ann@corp.example"}).json()
        assert [f["action"] for f in found["findings"]] == ["block"]
        assert http.get("/v1/rag/collections").json()["data"] == []  # a fresh SLM_HOME
