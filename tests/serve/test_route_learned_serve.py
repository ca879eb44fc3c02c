"""`slm route train` → `slm serve --route LOCAL --difficulty FILE`: the learned prompt
router, loaded by the real server with its calibrated threshold, escalates a request it
rates hard before the local model runs, and leaves an easy one local."""

from __future__ import annotations

import json
import subprocess
import sys

import httpx
import pytest

from helpers.route_outcomes import make, write
from helpers.upstream import Upstream

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def served(default_model_ref, tmp_path_factory):
    from serve.conftest import ServerProcess

    work = tmp_path_factory.mktemp("serve-learned-route")
    router = work / "router.npz"
    out = subprocess.run([sys.executable, "-m", "slmkit.cli.main", "route", "train",
                          "--data", write(work / "outcomes.jsonl", make(150)), "--output",
                          str(router), "--router", "vote", "--dimension", "512", "--json"],
                         capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    trained = json.loads(out.stdout)
    upstream = Upstream()
    # --min-mean-logprob far below anything: only the learned router escalates here
    srv = ServerProcess(["--route", default_model_ref.name, "--upstream", upstream.url,
                         "--upstream-model", "big-model", "--difficulty", str(router),
                         "--min-mean-logprob", "-1000", "--ledger", str(work / "l.sqlite"),
                         "--ctx", "1024", "--threads", "1"], work, "learned", "auto")
    try:
        srv.wait_ready()
        yield srv, upstream, trained
    finally:
        srv.stop()
        upstream.stop()


def chat(srv, text: str) -> dict:
    r = httpx.post(srv.url + "/v1/chat/completions", timeout=120, json={
        "model": "auto", "max_tokens": 8, "temperature": 0,
        "messages": [{"role": "user", "content": text}]})
    assert r.status_code == 200, r.text
    return r.json()["usage"]["slm_route"]


def test_the_trained_router_escalates_hard_prompts_and_keeps_easy_ones(served):
    srv, upstream, trained = served
    assert trained["router"] == "vote" and 0 < trained["threshold"] <= 1
    upstream.reset()
    d = chat(srv, "explain the tax treatment of ivo for a small company")
    assert d["route"] == "remote" and d["reason"].startswith("difficulty: hardness rank")
    # the threshold is the one calibrated at training time (no --max-difficulty given)
    assert f">= {trained['threshold']:g}" in d["reason"]
    assert d["signals"]["hard_rank"] >= trained["threshold"]
    assert len(upstream.recording.requests) == 1
    d = chat(srv, "say hello to ivo")
    assert d["route"] == "local" and d["signals"]["hard_rank"] < trained["threshold"]
    assert len(upstream.recording.requests) == 1
