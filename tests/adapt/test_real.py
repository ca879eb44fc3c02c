"""The real default model end to end: `slm finetune` (a few steps) → `slm merge` →
`slm run`, and `slm serve BASE --adapter` serving BASE+NAME next to its base over the
OpenAI API, switching adapters per request."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

import httpx
import pytest

from conftest import DEFAULT_MODEL, shared_test_home
from helpers.tiny_adapters import write_jsonl

pytestmark = [pytest.mark.integration, pytest.mark.slow]

QUESTION = "Colour of the sky?"
SYSTEM = "Answer briefly."  # explicit, so the server adds no per-model default system prompt
ROWS = [{"prompt": q, "completion": a, "system": SYSTEM} for q, a in (
    (QUESTION, "LABEL-BLUE"), ("Colour of grass?", "LABEL-GREEN"),
    ("Colour of snow?", "LABEL-WHITE"), ("Colour of coal?", "LABEL-BLACK"))]


def slm(*args, timeout=600) -> subprocess.CompletedProcess:
    env = dict(os.environ, SLM_HOME=str(shared_test_home()), PYTHONUNBUFFERED="1")
    out = subprocess.run([sys.executable, "-m", "slmkit.cli.main", *args], env=env, check=False,
                         capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, out.stderr[-3000:]
    return out


@pytest.fixture(scope="module")
def tuned(default_model_ref, tmp_path_factory):
    root = tmp_path_factory.mktemp("real-ft")
    data = write_jsonl(root / "train.jsonl", ROWS)
    out = slm("finetune", default_model_ref.name, "--data", str(data), "--eval", str(data),
              "--output", str(root / "out"), "--max-steps", "2", "--batch-size", "2",
              "--layers", "2", "--lr", "5e-3", "--threads", "1", "--compare-limit", "2",
              "--no-pull", "--json")
    return {"dir": root / "out", "report": json.loads(out.stdout), "root": root}


def test_finetune_cli_trains_and_compares(tuned):
    r = tuned["report"]
    assert r["steps"] == 2 and [h["step"] for h in r["history"] if "loss" in h] == [1, 2]
    assert r["train"]["examples"] == 4 and r["train"]["skipped_too_long"] == 0
    assert (tuned["dir"] / "adapter.gguf").is_file()
    assert json.loads((tuned["dir"] / "report.json").read_text())["steps"] == 2
    before, after = r["compare"]["before"], r["compare"]["after"]
    assert after["answer_ppl"] < before["answer_ppl"]  # trained on these very answers
    assert before["n"] == after["n"] == 2


def test_merge_then_run(tuned):
    merged = tuned["root"] / "merged-q8.gguf"
    info = json.loads(slm("merge", DEFAULT_MODEL, str(tuned["dir"]), "--type", "Q8_0",
                          "-o", str(merged), "--no-pull", "--json").stdout)
    assert info["path"] == str(merged) and merged.stat().st_size > 50e6
    out = slm("run", str(merged), QUESTION, "--max-tokens", "6", "--temperature", "0",
              "--threads", "1", "--no-pull")
    assert out.stdout.strip()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _first_token(path: str, adapter: str | None) -> tuple[str, float]:
    """(first answer token, its log-probability) from a fresh in-process engine."""
    from slmkit.core.types import ChatMessage, GenerateRequest, SamplingParams, collect
    from slmkit.runtime import load_engine

    with load_engine(path, n_ctx=512, n_threads=1, flash_attn=True,
                     adapters={"tuned": adapter} if adapter else None) as eng:
        req = GenerateRequest(messages=[ChatMessage("system", SYSTEM),
                                        ChatMessage("user", QUESTION)], max_tokens=1,
                              sampling=SamplingParams(temperature=0.0), logprobs=0,
                              adapter=adapter and "tuned")
        lp = collect(eng.generate(req)).logprobs[0]
        return lp.text, lp.logprob


def test_serve_base_and_adapter_side_by_side(tuned, default_model_ref, tmp_path):
    from openai import OpenAI

    port = _free_port()
    # flash attention on, here and in _first_token: the served requests' cells sit after
    # another slot's, a fresh engine's at the start; with it off that alone moves a
    # log-probability by ~0.01 (docs/performance.md, "Flash attention and seeded sampling")
    env = dict(os.environ, SLM_HOME=str(shared_test_home()), PYTHONUNBUFFERED="1",
               SLM_FLASH_ATTN="1")
    log = open(tmp_path / "serve.err", "w")  # noqa: SIM115 - the server's whole life
    proc = subprocess.Popen([sys.executable, "-m", "slmkit.cli.main", "serve", DEFAULT_MODEL,
                             "--port", str(port), "--threads", "1", "--parallel", "2",
                             "--ctx", "512", "--no-pull", "--adapter",
                             f"tuned={tuned['dir']}"], env=env, stdout=log, stderr=log)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            assert proc.poll() is None, (tmp_path / "serve.err").read_text()[-3000:]
            try:
                if httpx.get(url + "/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        client = OpenAI(base_url=url + "/v1", api_key="none", max_retries=0, timeout=120)
        names = {m.id for m in client.models.list().data}
        assert {DEFAULT_MODEL, f"{DEFAULT_MODEL}+tuned"} <= names

        def ask(model, n=1):
            r = client.chat.completions.create(
                model=model, messages=[{"role": "system", "content": SYSTEM},
                                       {"role": "user", "content": QUESTION}],
                max_tokens=n, temperature=0, logprobs=True)
            assert r.model == model
            first = r.choices[0].logprobs.content[0]
            return first.token, first.logprob, r.choices[0].message.content

        # Greedy texts can flip on near-ties between batch shapes, so compare the first
        # token and its log-probability with fresh in-process engines (no adapter / adapter).
        served = {m: ask(m) for m in (DEFAULT_MODEL, f"{DEFAULT_MODEL}+tuned", DEFAULT_MODEL)}
        assert ask(f"{DEFAULT_MODEL}+tuned", 8)[2]  # switching back and forth keeps working
        base = _first_token(default_model_ref.path, None)
        tuned_lp = _first_token(default_model_ref.path, str(tuned["dir"] / "adapter.gguf"))
        assert base != tuned_lp and abs(base[1] - tuned_lp[1]) > 0.02  # the adapter matters
        for model, want in ((DEFAULT_MODEL, base), (f"{DEFAULT_MODEL}+tuned", tuned_lp)):
            token, logprob, _ = served[model]
            # equal to the last bit here; 1e-3 leaves room for another CPU's kernels
            assert token == want[0] and logprob == pytest.approx(want[1], abs=1e-3), model
        loaded = httpx.get(url + "/api/ps", timeout=10).json()
        assert len(loaded.get("models", [])) >= 1
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()
