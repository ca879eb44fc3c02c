"""Real `slm serve` processes on loopback, started once per session and shared.

``server``: the default model, 4 slots, a small body limit, no key (or, with
``SLM_TEST_BASE_URL`` and ``SLM_TEST_MODEL_NAME``, a server already running there).
``keyed_server``: an API key, one slot and a queue of one, one CORS origin (auth, CORS and
overload tests).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from conftest import DEFAULT_MODEL, shared_test_home

API_KEY = "test-key-7f3a9c"
CORS_ORIGIN = "http://app.example.test"
MAX_BODY = 64 * 1024
CTX = 1024


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """A `python -m slmkit.cli.main serve` child; stdout/stderr go to files."""

    def __init__(self, args: list[str], logdir: Path, name: str, model_arg: str,
                 env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.stdout_path, self.stderr_path = logdir / f"{name}.out", logdir / f"{name}.err"
        env = dict(os.environ, SLM_HOME=str(shared_test_home()), PYTHONUNBUFFERED="1",
                   **(env or {}))
        env.pop("SLM_API_KEY", None)
        cmd = [sys.executable, "-m", "slmkit.cli.main", "serve", model_arg, "--host", "127.0.0.1",
               "--port", str(self.port), "--no-pull", *args]
        with open(self.stdout_path, "w") as out, open(self.stderr_path, "w") as err:
            self.proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=err)

    def wait_ready(self, timeout: float = 180.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log()}")
            try:
                if httpx.get(self.url + "/ready", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"server not ready after {timeout} s:\n{self.log()}")

    def log(self) -> str:
        return self.stderr_path.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _model_arg(default_model_ref) -> str:
    return os.environ.get("SLM_TEST_MODEL_PATH") or default_model_ref.name


class ExternalServer:
    """A server someone else started (``SLM_TEST_BASE_URL``): benchmarks/gpu_check.py runs
    the OpenAI tests against `slm serve MODEL@vllm` on a GPU machine this way."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")


# One llama.cpp thread per server: on a small shared machine two threads that wait for each
# other at every step stall for seconds whenever another process takes a core.
@pytest.fixture(scope="session")
def server(request, tmp_path_factory):
    if os.environ.get("SLM_TEST_BASE_URL"):
        yield ExternalServer(os.environ["SLM_TEST_BASE_URL"])
        return
    default_model_ref = request.getfixturevalue("default_model_ref")
    srv = ServerProcess(["--ctx", str(CTX), "--threads", "1", "--parallel", "4",
                         "--queue", "16", "--max-body-bytes", str(MAX_BODY)],
                        tmp_path_factory.mktemp("serve"), "main", _model_arg(default_model_ref))
    try:
        srv.wait_ready()
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="session")
def keyed_server(default_model_ref, tmp_path_factory):
    srv = ServerProcess(["--ctx", "512", "--threads", "1", "--parallel", "1", "--queue", "1",
                         "--api-key", API_KEY, "--cors-origin", CORS_ORIGIN],
                        tmp_path_factory.mktemp("serve-keyed"),
                        "keyed", _model_arg(default_model_ref))
    try:
        srv.wait_ready()
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="session")
def model_name(request) -> str:
    if os.environ.get("SLM_TEST_MODEL_NAME"):  # the name an external server serves
        return os.environ["SLM_TEST_MODEL_NAME"]
    request.getfixturevalue("default_model_ref")
    if os.environ.get("SLM_TEST_MODEL_PATH"):
        return Path(os.environ["SLM_TEST_MODEL_PATH"]).name.removesuffix(".gguf")
    return DEFAULT_MODEL


@pytest.fixture(scope="session")
def client(server):
    from openai import OpenAI

    return OpenAI(base_url=server.url + "/v1", api_key="unused", max_retries=0, timeout=120)


@pytest.fixture(scope="session")
def http(server):
    with httpx.Client(base_url=server.url, timeout=120) as c:
        yield c


CODER = "qwen2.5-coder-0.5b-instruct"


@pytest.fixture(scope="session")
def coder_server(tmp_path_factory):
    """The offline coder model (the tool-calling test model: its chat template describes
    tools), pulled once into the shared store; one server for every client suite."""
    from filelock import FileLock

    from slmkit.models.store import Store

    home = shared_test_home()
    home.mkdir(parents=True, exist_ok=True)
    with FileLock(str(home / ".test-pull.lock")):
        Store(home).pull(CODER)
    srv = ServerProcess(["--ctx", "4096", "--threads", "1", "--parallel", "2", "--queue", "8"],
                        tmp_path_factory.mktemp("serve-coder"), "coder", CODER)
    try:
        srv.wait_ready()
        yield srv
    finally:
        srv.stop()
