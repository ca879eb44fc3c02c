"""`slm serve --route LOCAL --upstream URL`: the model `auto` over real HTTP (the default
model locally, the recording upstream remotely), the decision in the response, the ledger,
and the guard's own endpoints."""

from __future__ import annotations

import json
import subprocess
import sys

import httpx
import pytest

from helpers.upstream import Upstream
from slmkit.cli.main import main

pytestmark = pytest.mark.integration

EMAIL = "jane.doe@example.com"


@pytest.fixture(scope="module")
def upstream():
    server = Upstream()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def routed(upstream, default_model_ref, tmp_path_factory):
    from serve.conftest import ServerProcess

    logdir = tmp_path_factory.mktemp("serve-route")
    ledger = logdir / "ledger.sqlite"
    srv = ServerProcess(["--route", default_model_ref.name, "--upstream", upstream.url,
                         "--upstream-model", "big-model", "--ledger", str(ledger),
                         "--guard-policy", "KR_RRN=block", "--ctx", "1024", "--threads", "1",
                         "--parallel", "2", "--allow-remote-tag"], logdir, "routed", "auto")
    try:
        srv.wait_ready()
        srv.ledger = ledger
        yield srv
    finally:
        srv.stop()


def chat(srv, text: str) -> dict:
    r = httpx.post(srv.url + "/v1/chat/completions", timeout=120, json={
        "model": "auto", "max_tokens": 24, "temperature": 0,
        "messages": [{"role": "user", "content": text}]})
    assert r.status_code == 200, r.text
    return r.json()


def test_auto_is_listed_and_escalations_are_masked_and_restored(routed, upstream):
    upstream.reset()
    models = httpx.get(routed.url + "/v1/models", timeout=30).json()
    assert "auto" in [m["id"] for m in models["data"]]
    body = chat(routed, f"#route:remote please write to {EMAIL} about the invoice")
    decision = body["usage"]["slm_route"]
    assert decision["route"] == "remote" and decision["reason"] == "tag:remote"
    assert decision["masked"] == 1
    answer = body["choices"][0]["message"]["content"]
    assert answer.startswith("You said:") and EMAIL in answer  # unmasked on return
    sent = upstream.recording.bodies()
    assert len(sent) == 1 and EMAIL not in sent[0] and "<EMAIL_1>" in sent[0]


def test_local_answers_carry_their_decision_and_the_ledger_counts_both(routed, upstream):
    upstream.reset()
    body = chat(routed, "#route:local What is the capital of France?")
    assert body["usage"]["slm_route"]["route"] == "local"
    assert body["choices"][0]["message"]["content"].strip()
    assert upstream.recording.requests == []
    out = subprocess.run([sys.executable, "-m", "slmkit.cli.main", "route", "report",
                          "--ledger", str(routed.ledger), "--json"],
                         capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert summary["routes"].get("remote", 0) >= 1 and summary["routes"].get("local", 0) >= 1


def test_a_blocked_identifier_is_refused_and_never_sent(routed, upstream):
    upstream.reset()
    r = httpx.post(routed.url + "/v1/chat/completions", timeout=60, json={
        "model": "auto", "max_tokens": 8,
        "messages": [{"role": "user", "content": "#route:remote my RRN is 900101-1234568"}]})
    assert r.status_code == 400 and r.json()["error"]["code"] == "guard_blocked"
    assert "900101" not in r.text and upstream.recording.requests == []


def test_guard_endpoints_scan_mask_and_round_trip(routed):
    text = f"mail {EMAIL} from 10.1.2.3, card 4111 1111 1111 1111"
    with httpx.Client(base_url=routed.url, timeout=30) as http:
        scan = http.post("/v1/guard/scan", json={"text": text}).json()
        assert {f["entity"] for f in scan["findings"]} >= {"EMAIL", "IP_ADDRESS", "CREDIT_CARD"}
        assert EMAIL not in json.dumps(scan)  # values only when asked
        masked = http.post("/v1/guard/mask", json={"text": text}).json()
        assert EMAIL not in masked["text"] and "<EMAIL_1>" in masked["text"]
        cid = masked["conversation_id"]
        again = http.post("/v1/guard/mask", json={"text": f"cc {EMAIL}",
                                                  "conversation_id": cid}).json()
        assert again["text"] == "cc <EMAIL_1>"  # consistent within a conversation
        back = http.post("/v1/guard/unmask", json={"text": masked["text"],
                                                   "conversation_id": cid}).json()
        assert back["text"] == text
        missing = http.post("/v1/guard/unmask", json={"text": "x", "conversation_id": "nope"})
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == "conversation_not_found"
        bad = http.post("/v1/guard/scan", json={"text": "x", "extra": 1})
        assert bad.status_code == 400
        assert http.delete(f"/v1/guard/conversations/{cid}").json()["deleted"] is True
        assert http.post("/v1/guard/unmask", json={"text": "x", "conversation_id": cid}
                         ).status_code == 404


def test_routing_flags_are_checked_before_binding(capsys):
    assert main(["serve", "--route", "smollm2-135m-instruct"]) != 0
    assert "--route needs --upstream" in capsys.readouterr().err
    assert main(["serve", "--upstream", "http://127.0.0.1:9"]) != 0
    assert "need --route" in capsys.readouterr().err
