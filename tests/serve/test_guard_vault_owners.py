"""/v1/guard over HTTP: a vault answers only the API key that created it, ids are the
server's, a full vault is a 413 (issue 13)."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient

from slmkit.guard.service import GuardService, VaultSessions
from slmkit.serve import errors, routes_guard
from slmkit.serve.auth import ApiKeys, AuthMiddleware


def app_with(keys: list[str], sessions: VaultSessions | None = None) -> FastAPI:
    app = FastAPI()
    app.state.guard = GuardService(sessions=sessions)
    app.include_router(routes_guard.router)

    @app.exception_handler(Exception)
    async def handle(request, err):
        e = errors.from_exception(err)
        return JSONResponse(errors.body(request.url.path, e), status_code=e.status)

    app.add_middleware(AuthMiddleware, keys=ApiKeys(keys))
    return app


KEY_A, KEY_B = "a" * 32, "b" * 32


def test_another_key_cannot_unmask_extend_or_delete_a_conversation():
    http = TestClient(app_with([KEY_A, KEY_B]), raise_server_exceptions=False)
    a, b = {"Authorization": f"Bearer {KEY_A}"}, {"X-API-Key": KEY_B}
    m = http.post("/v1/guard/mask", json={"text": "mail ann@corp.example"}, headers=a).json()
    cid = m["conversation_id"]
    assert m["text"] == "mail <EMAIL_1>"
    stolen = http.post("/v1/guard/unmask", json={"text": m["text"], "conversation_id": cid},
                       headers=b)
    assert stolen.status_code == 404 and "ann@" not in stolen.text
    assert http.post("/v1/guard/mask", json={"text": "x", "conversation_id": cid},
                     headers=b).status_code == 404
    assert http.delete(f"/v1/guard/conversations/{cid}", headers=b).json()["deleted"] is False
    mine = http.post("/v1/guard/unmask", json={"text": m["text"], "conversation_id": cid},
                     headers=a).json()
    assert mine["text"] == "mail ann@corp.example"


def test_keyless_ids_are_server_generated_and_client_ids_are_refused():
    http = TestClient(app_with([]), raise_server_exceptions=False)
    r = http.post("/v1/guard/mask", json={"text": "x", "conversation_id": "chosen-by-me"})
    assert r.status_code == 404 and r.json()["error"]["code"] == "conversation_not_found"
    cid = http.post("/v1/guard/mask", json={"text": "ann@corp.example"}).json()["conversation_id"]
    assert cid != "chosen-by-me" and len(cid) >= 22


@pytest.mark.parametrize("n", [5000])
def test_a_full_vault_is_413_with_a_hint(n):
    http = TestClient(app_with([], VaultSessions(max_vault_bytes=100_000)),
                      raise_server_exceptions=False)
    big = " ".join(f"u{i}@corp.example" for i in range(n))
    r = http.post("/v1/guard/mask", json={"text": big})
    assert r.status_code == 413 and r.json()["error"]["code"] == "vault_full"
    assert "new conversation" in r.text
