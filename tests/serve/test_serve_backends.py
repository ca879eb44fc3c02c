"""`slm serve` on a torch (Hugging Face directory) and an ONNX model, both made from the real
default model by the project's own conversion, chatted with through the `openai` client.

The server opens them through ``slmkit.models.load`` like every verb: the directory's
content picks the backend (config.json + safetensors → torch, genai_config.json → onnx),
and llama.cpp's --parallel does not apply to them (one request at a time, the rest wait).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import pytest

pytest.importorskip("torch")
pytest.importorskip("onnxruntime_genai")
pytest.importorskip("openai")

pytestmark = pytest.mark.integration

SYSTEM = "Answer briefly and factually."
QUESTION = "What is the capital of France?"


@pytest.fixture(scope="module")
def model_dirs(default_model_ref):
    """{"torch": HF dir, "onnx": ONNX int4 dir}, converted once per machine and shared with
    the other tests that use them (tests/runtime/test_onnx_engine.py)."""
    from filelock import FileLock

    from helpers.converted import converted, shared_test_home

    hf = converted(default_model_ref.path, default_model_ref.sha256)["hf"]  # `--to hf`
    onnx = hf.parent / "onnx-int4"
    with FileLock(str(hf.parent / ".lock")):
        if not (onnx / "genai_config.json").is_file():
            env = dict(os.environ, SLM_HOME=str(shared_test_home()))
            done = subprocess.run(
                [sys.executable, "-m", "slmkit.cli.main", "convert", str(hf), "--to", "onnx",
                 "--type", "int4", "-o", str(onnx), "--force", "--json"],
                env=env, capture_output=True, text=True, timeout=600, check=False)
            assert done.returncode == 0, done.stderr
    return {"torch": hf, "onnx": onnx}


@pytest.fixture(scope="module", params=["torch", "onnx"])
def served(request, model_dirs, tmp_path_factory):
    """(backend, served model name, client) for a server started on that directory."""
    from openai import OpenAI

    from serve.conftest import ServerProcess

    path = model_dirs[request.param]
    # one thread: on a busy shared machine torch's threads stall waiting for each other
    srv = ServerProcess(["--ctx", "1024", "--threads", "1", "--parallel", "4"],
                        tmp_path_factory.mktemp(f"serve-{request.param}"), request.param,
                        str(path))
    try:
        srv.wait_ready(timeout=120)
        client = OpenAI(base_url=srv.url + "/v1", api_key="none", max_retries=0, timeout=120)
        yield request.param, path.name, client
    finally:
        srv.stop()


def ask(client, name: str, **kw):
    return client.chat.completions.create(
        model=name, messages=[{"role": "system", "content": SYSTEM},
                              {"role": "user", "content": QUESTION}],
        temperature=0, max_tokens=kw.pop("max_tokens", 12), **kw)


def test_chat_answers_with_and_without_streaming(served):
    backend, name, client = served
    assert name in [m.id for m in client.models.list().data]
    whole = ask(client, name)
    answer = whole.choices[0].message.content
    assert "Paris" in answer, (backend, answer)
    assert whole.model == name and whole.usage.completion_tokens > 0
    assert whole.choices[0].finish_reason in ("stop", "length")

    parts, usage = [], None
    for chunk in ask(client, name, stream=True, stream_options={"include_usage": True}):
        if chunk.usage is not None:
            usage = chunk.usage
        if chunk.choices and chunk.choices[0].delta.content:
            parts.append(chunk.choices[0].delta.content)
    streamed = "".join(parts)
    assert len(parts) > 1 and "Paris" in streamed, (backend, streamed)
    assert usage is not None and usage.prompt_tokens > 0 and usage.completion_tokens > 0


def test_concurrent_requests_wait_their_turn(served):
    """A single-sequence engine serves requests one after another, none is refused."""
    backend, name, client = served
    results: list = [None, None, None]

    def one(i: int) -> None:
        try:
            results[i] = ask(client, name, max_tokens=4).usage.completion_tokens
        except Exception as err:  # noqa: BLE001 - reported below
            results[i] = err

    threads = [threading.Thread(target=one, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert all(isinstance(r, int) and r > 0 for r in results), (backend, results)
