"""End to end on the real default model: the agent installs, rolls back a bad bundle, and
survives SIGKILL at every step (the device ends on the old or the new version, never half,
and a server on ``current`` answers)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from helpers.edge_bundles import make_keys, tiny_model, write_golden

from slmkit.edge.agent import CRASH_POINTS

pytestmark = [pytest.mark.integration, pytest.mark.slow]

GOOD = [{"prompt": "What is the capital of France? Answer in one word.", "expect": "Paris",
         "max_tokens": 8}]
BAD = [{"prompt": "What is the capital of France?", "expect": "zebra-unicorn-42",
        "max_tokens": 8}]
SERVE = "[serve]\nctx = 512\nparallel = 1\nthreads = 2\n"
HOME: Path | None = None  # the store the agents see (set by the fixture)


def _slm(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "SLM_HOME": str(HOME)} if HOME else os.environ.copy()
    proc = subprocess.run([sys.executable, "-m", "slmkit.cli.main", *args],
                          capture_output=True, text=True, env=env, timeout=600)
    if check and proc.returncode != 0:
        raise AssertionError(f"slm {args[0]} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return proc


def _bundle(work: Path, model: str, version: str, golden: list[dict], *extra: str) -> Path:
    out = work / f"v{version}.slmb"
    _slm("bundle", model, "--name", "smol", "--version", version, "--sign",
         str(work / "keys/signing.key"), "--golden",
         str(write_golden(work / f"g{version}.jsonl", golden)), "--config",
         str(work / "serve.toml"), "-o", str(out), *extra)
    return out


def _agent(work: Path, device: Path, *extra: str, check: bool = True):
    return _slm("agent", "--repo", str(work / "repo"), "--key",
                str(work / "keys/signing.key.pub"), "--device-dir", str(device),
                "--device-id", "dev-1", "--once", "--json", *extra, check=check)


@pytest.fixture(scope="module")
def field(tmp_path_factory, default_model_path):
    """A repository at 1.1.0 and a device that installed 1.0.0 from it."""
    global HOME
    work = tmp_path_factory.mktemp("edge")
    # a store holding another model that sorts first: probation must ask the model it
    # started from the slot, not the first one the server could load on demand
    from slmkit.models.store import Store

    HOME = work / "home"
    Store(HOME).add(tiny_model(work), "aaa-tiny")
    make_keys(work)
    (work / "serve.toml").write_text(SERVE)
    key = str(work / "keys/signing.key")
    v1 = _bundle(work, default_model_path, "1.0.0", GOOD, "--max-kld", "0.001",
                 "--max-dppl", "1")
    _slm("publish", str(v1), "--repo", str(work / "repo"), "--sign", key)
    out = _agent(work, work / "device")
    assert json.loads(out.stdout)["action"] == "installed", out.stdout
    # the same model on the same runtime: the fidelity check ran and found no difference
    probation = json.loads((work / "device" / "state.json").read_text())["last_probation"]
    assert probation["fidelity"]["kld"] < 0.001 and probation["fidelity"]["steps"] >= 4
    v2 = _bundle(work, default_model_path, "1.1.0", GOOD)
    _slm("publish", str(v2), "--repo", str(work / "repo"), "--sign", key)
    return work


def _copy_device(field: Path, dest: Path) -> Path:
    """The installed device, hard-linked (the agent never writes a slot file in place)."""
    shutil.copytree(field / "device", dest, symlinks=True, copy_function=os.link)
    return dest


def _on_disk(device: Path) -> str:
    """The version ``current`` shows, after checking it is a complete, intact slot."""
    from slmkit.util.files import sha256_file

    slot = device / "current"
    manifest = json.loads((slot / "manifest.json").read_text())
    for name, entry in manifest["files"].items():
        assert sha256_file(slot / name) == entry["sha256"], name
    return manifest["version"]


def _answers(device: Path) -> str:
    from slmkit.edge.server import ServeProcess

    slot = (device / "current").resolve()
    manifest = json.loads((slot / "manifest.json").read_text())
    with ServeProcess(slot, manifest) as server:
        model = server.wait_ready()
        body = {"model": model, "messages": [{"role": "user", "content": "Hi"}],
                "max_tokens": 2}
        req = urllib.request.Request(f"{server.base_url}/v1/chat/completions",
                                     data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as resp:
            return json.loads(resp.read())["choices"][0]["message"]["content"]


@pytest.mark.parametrize("step", CRASH_POINTS)
def test_sigkill_at_each_step_ends_on_old_or_new_and_serves(field, tmp_path, step):
    device = _copy_device(field, tmp_path / "device")
    crashed = _agent(field, device, "--crash-at", step, check=False)
    assert crashed.returncode == -9, crashed.stderr[-2000:]
    assert _on_disk(device) in ("1.0.0", "1.1.0")
    action = json.loads(_agent(field, device).stdout)["action"]
    assert action in ("installed", "up_to_date"), action
    assert _on_disk(device) == "1.1.0"
    state = json.loads((device / "state.json").read_text())
    assert state["committed"]["version"] == "1.1.0" and state["pending"] is None
    assert not list((device / "staging").iterdir())
    if action == "installed":  # its probation server ran on the slot `current` now names
        assert state["last_probation"]["passed"] == 1 and not state["last_probation"]["reason"]
    else:  # committed before the kill: nothing re-ran, so ask a fresh server on `current`
        assert _answers(device)


def test_bad_config_only_update_rolls_back_without_downloading_the_model(
        field, tmp_path, default_model_path):
    device = _copy_device(field, tmp_path / "device")
    _agent(field, device)  # to 1.1.0
    bad = _bundle(field, default_model_path, "1.2.0", BAD, "--config-only")
    assert bad.stat().st_size < 1 << 20  # the model stays out of the download
    _slm("publish", str(bad), "--repo", str(field / "repo"), "--sign",
         str(field / "keys/signing.key"))
    out = json.loads(_agent(field, device).stdout)
    assert out["action"] == "rolled_back" and "golden prompts: 0/1 passed" in out["reason"]
    assert _on_disk(device) == "1.1.0"
    status = json.loads(_slm("agent", "--status", "--repo", str(field / "repo"), "--key",
                             str(field / "keys/signing.key.pub"), "--device-dir",
                             str(device)).stdout)
    assert status["last_rollback"]["version"] == "1.2.0" and status["rollbacks"] == 1
    again = json.loads(_agent(field, device).stdout)
    assert again["action"] == "skipped"  # a failed version is not retried
    assert _answers(device)


def test_agent_hosts_the_server_on_current_and_reports_to_the_fleet(field, tmp_path):
    import time

    from helpers.fake_server import LiveServer

    from slmkit.edge.fleet import FleetDB, create_app
    from slmkit.edge.server import free_port

    device = _copy_device(field, tmp_path / "device")
    db = FleetDB(tmp_path / "fleet.db")
    (tmp_path / "token").write_text(db.add_device("dev-1"))
    port = free_port()
    with LiveServer(create_app(db)) as collector:
        proc = subprocess.Popen(
            [sys.executable, "-m", "slmkit.cli.main", "agent", "--repo", str(field / "repo"),
             "--key", str(field / "keys/signing.key.pub"), "--device-dir", str(device),
             "--device-id", "dev-1", "--interval", "1", "--serve-port", str(port),
             "--fleet", collector.url, "--token-file", str(tmp_path / "token")],
            env={**os.environ, "SLM_HOME": str(HOME)}, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline and db.status()[0]["health"] != "ok":
                assert proc.poll() is None, "the agent stopped"
                time.sleep(0.5)
            row = db.status()[0]
            committed = json.loads((device / "state.json").read_text())["committed"]
            assert row["health"] == "ok" and row["version"] == committed["version"]
            assert row["tok_s"] and not row["silent"]
            body = {"model": "x", "messages": [{"role": "user", "content": "Hi"}],
                    "max_tokens": 2}
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=30) as r:
                body["model"] = json.loads(r.read())["models"][0]
            req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/chat/completions",
                                         data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(req, timeout=60) as resp:
                assert json.loads(resp.read())["choices"][0]["message"]["content"]
        finally:
            proc.terminate()
            proc.wait(30)
    db.close()
