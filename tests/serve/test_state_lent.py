"""serve.state: every declared feature exists on app.state (None/empty when not lent)."""

from __future__ import annotations

from types import SimpleNamespace

from fastapi.testclient import TestClient

from helpers.fake_server import fake_app, one_model
from slmkit.serve.state import Lent, lend


def test_lend_sets_every_declared_field_and_keeps_extra_keys():
    state = SimpleNamespace()
    lend(state, {"rag": "collections", "custom": 7})
    assert state.rag == "collections" and state.custom == 7
    assert state.apps == {} and state.infill is None and state.jobs is None
    assert set(Lent.__dataclass_fields__) <= set(vars(state))


def test_features_off_by_default_and_disabled_routes_say_so():
    app, _ = fake_app(one_model())
    with TestClient(app, base_url="http://127.0.0.1:8000") as client:
        features = client.get("/v1/ui/features").json()
        assert features["rag"] is False and features["conversations"] is False
        r = client.get("/v1/ui/operations")
        assert r.json() == {"routing": None, "guard": None}
