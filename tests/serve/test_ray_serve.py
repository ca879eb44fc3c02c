"""The OpenAI and Ollama HTTP suites against `slm serve --ray --replicas 2` on a local Ray
head: the same test functions, only the server (its base URL) changes; then one model
replica is killed while it streams, and the answer must end with an error, not a hang."""

from __future__ import annotations

import inspect
import os
import signal
import threading
import time

import httpx
import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.ray]
pytest.importorskip("ray.serve", reason="ray[serve] is not installed (pip install "
                                         "'slmkit[ray]'): the Ray Serve tests need a local head")

from serve import test_ollama_routes, test_openai_routes  # noqa: E402
from serve.conftest import CTX, MAX_BODY, ServerProcess, _model_arg  # noqa: E402

REPLICA = "ServeReplica:slmkit:model-"

# the suites' tests, collected here again against the Ray-served app. Left to their home
# module: those that start their own plain server (the coder model's), and the 60-sample
# JSON-schema test (two minutes on two cores; the grammar runs in the engine, one request
# of it here is test_json_object_mode / the tool-call tests).
LEFT_OUT = {"test_json_schema_output_valid_over_many_samples"}
for _module in (test_openai_routes, test_ollama_routes):
    for _name, _test in vars(_module).items():
        if (_name.startswith("test_") and _name not in LEFT_OUT
                and "coder_server" not in inspect.signature(_test).parameters):
            globals()[_name] = _test


@pytest.fixture(scope="module")
def server(default_model_ref, tmp_path_factory):
    srv = ServerProcess(["--ray", "--replicas", "2", "--ctx", str(CTX), "--threads", "1",
                         "--parallel", "4", "--queue", "16", "--max-body-bytes", str(MAX_BODY)],
                        tmp_path_factory.mktemp("serve-ray"), "ray", _model_arg(default_model_ref),
                        # test_seed_reproducible sends seed 7 twice; the two replicas' caches hold
                        # different histories, and with flash attention off where a request's
                        # cells land changes its logits and a sampled answer drifts
                        env={"SLM_FLASH_ATTN": "1"})
    try:
        srv.wait_ready(timeout=300)
        yield srv
    finally:
        srv.proc.terminate()  # SIGTERM: the server deletes its app and stops its Ray head
        try:
            srv.proc.wait(timeout=90)
        except Exception:  # noqa: BLE001
            srv.proc.kill()
            srv.proc.wait()


@pytest.fixture(scope="module")
def client(server):
    from openai import OpenAI

    return OpenAI(base_url=server.url + "/v1", api_key="unused", max_retries=0, timeout=120)


@pytest.fixture(scope="module")
def http(server):
    with httpx.Client(base_url=server.url, timeout=120) as c:
        yield c


def _replicas() -> list:
    import psutil

    out = []
    for p in psutil.process_iter(["cmdline"]):
        if REPLICA in " ".join(p.info["cmdline"] or []):
            out.append(p)
    return out


def _busiest(procs: list):
    before = {p.pid: p.cpu_times().user for p in procs}
    time.sleep(1.0)
    return max(procs, key=lambda p: p.cpu_times().user - before[p.pid])


def test_a_killed_replica_fails_its_stream_cleanly_and_is_replaced(server, model_name):
    lines: list[str] = []
    body = {"model": model_name, "max_tokens": 400, "stream": True, "temperature": 0.8,
            "messages": [{"role": "user", "content": "Write a very long story about a dragon."}]}

    def stream() -> None:
        with httpx.stream("POST", server.url + "/v1/chat/completions", json=body,
                          timeout=120) as r:
            assert r.status_code == 200
            lines.extend(line for line in r.iter_lines() if line)

    reader = threading.Thread(target=stream)
    reader.start()
    deadline = time.monotonic() + 120
    while len(lines) < 3 and time.monotonic() < deadline and reader.is_alive():
        time.sleep(0.05)
    assert len(lines) >= 3, "the stream never started"
    procs = _replicas()
    assert len(procs) == 2
    victim = _busiest(procs)
    os.kill(victim.pid, signal.SIGKILL)
    reader.join(timeout=60)
    assert not reader.is_alive(), "the stream hangs after its replica died"
    assert lines[-1] == "data: [DONE]"
    assert '"replica_lost"' in lines[-2], lines[-3:]

    r = httpx.post(server.url + "/v1/chat/completions", timeout=120, json={
        "model": model_name, "max_tokens": 4, "messages": [{"role": "user", "content": "Hi"}]})
    assert r.status_code == 200 and r.json()["choices"][0]["message"]["content"]
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        alive = [p for p in _replicas() if p.pid != victim.pid and p.is_running()]
        if len(alive) == 2:
            break
        time.sleep(1)
    assert len(alive) == 2, "Ray Serve did not replace the killed replica"
