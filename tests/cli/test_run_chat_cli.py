"""`slm run` and `slm chat` end to end, as a user runs them (subprocess, real model)."""

import json
import os
import subprocess
import sys

import pytest

from conftest import shared_test_home

pytestmark = pytest.mark.integration


def slm(*args, stdin=None, env_extra=None, timeout=180):
    env = dict(os.environ, SLM_HOME=str(shared_test_home()), **(env_extra or {}))
    return subprocess.run([sys.executable, "-m", "slmkit.cli.main", *args], input=stdin,
                          capture_output=True, text=True, env=env, timeout=timeout)


HEAVY = ("llama_cpp", "numpy", "rich", "jinja2", "huggingface_hub", "torch", "transformers",
         "onnxruntime", "onnxruntime_genai", "fastapi", "httpx")


def test_help_imports_nothing_heavy():
    """`slm --help` answers instantly because it imports no heavy library (what that costs
    in wall time is measured by benchmarks/cli_startup.py, not asserted here)."""
    out = subprocess.run([sys.executable, "-X", "importtime", "-m", "slmkit.cli.main", "--help"],
                         capture_output=True, text=True)
    assert out.returncode == 0 and "run" in out.stdout and "pull" in out.stdout
    imported = {line.rsplit("|", 1)[1].strip().split(".")[0]
                for line in out.stderr.splitlines() if line.startswith("import time:")}
    assert "slmkit" in imported  # the import log is there: the check below is not vacuous
    assert sorted(imported & set(HEAVY)) == []
    # nor does building the parser (every verb registered)
    probe = ("import sys, slmkit.cli.main as m; m._build_parser(None); "
             "print(sorted(k for k in sys.modules if k.split('.')[0] in "
             f"{HEAVY!r}))")
    mods = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert mods.stdout.strip() == "[]"


def test_llamacpp_engine_starts_without_numpy_or_rich():
    """`slm run` and `slm serve` open the llama.cpp engine without importing numpy (only
    logits, log-probabilities, scores and embeddings need it) or rich (only errors print
    with it): a cold start pays neither (timed by benchmarks/cold_start.py)."""
    probe = ("import sys; import slmkit.cli.main, slmkit.cli.run, slmkit.cli.output, "
             "slmkit.models.load, slmkit.runtime.llamacpp.engine; "
             "print(sorted(k for k in ('numpy', 'rich') if k in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_run_default_model_answers_paris(default_model_ref):
    out = slm("run", "What is the capital of France?", "--temperature", "0")
    assert out.returncode == 0, out.stderr
    assert "Paris" in out.stdout


def test_run_json_and_verbose(default_model_ref):
    out = slm("run", "smollm2-135m-instruct", "What is the capital of France?",
              "--temperature", "0", "--max-tokens", "16", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["model"] == "smollm2-135m-instruct" and "Paris" in data["text"]
    assert data["usage"]["completion_tokens"] <= 16 and data["load_seconds"] > 0
    out = slm("run", "Say hi", "--max-tokens", "8", "--verbose")
    assert "decode" in out.stderr and "tok/s" in out.stderr


def test_run_reads_stdin_and_gguf_path(default_model_path):
    out = slm("run", default_model_path, "-", "--temperature", "0", "--max-tokens", "24",
              stdin="What is the capital of France?")
    assert out.returncode == 0, out.stderr
    assert "Paris" in out.stdout


def test_run_unknown_model_suggests_names(default_model_ref):
    out = slm("run", "smollm2-135m-instruc", "hi")
    assert out.returncode == 1
    assert "smollm2-135m-instruct" in out.stderr and "slm pull" in out.stderr


def test_run_truncated_file_is_a_clear_error(tmp_path, default_model_path):
    bad = tmp_path / "half.gguf"
    with open(default_model_path, "rb") as src:
        bad.write_bytes(src.read(20_000_000))
    out = slm("run", str(bad), "hi")
    assert out.returncode == 1
    assert "truncated" in out.stderr.lower() and "Traceback" not in out.stderr


def test_run_prompt_over_context_names_both_numbers(default_model_ref):
    out = slm("run", "-", "--ctx", "256", "--raw", stdin="hello " * 400)
    assert out.returncode == 1, out.stdout
    assert "256" in out.stderr and "context" in out.stderr and "Traceback" not in out.stderr


def test_chat_keeps_history_and_commands(default_model_ref):
    script = "\n".join([
        "/system Answer briefly and factually.",
        "What is the capital of France?",
        "/reset",
        "/bogus",
        "/exit",
    ]) + "\n"
    out = slm("chat", "--temperature", "0", "--max-tokens", "32", stdin=script)
    assert out.returncode == 0, out.stderr
    assert "Paris" in out.stdout
    assert "history cleared" in out.stderr and "unknown command" in out.stderr


def test_chat_session_history(engine):
    from argparse import Namespace

    from slmkit.cli.chat import ChatSession

    args = Namespace(max_tokens=24, temperature=0.0, top_p=None, top_k=None, min_p=None,
                     repeat_penalty=None, seed=None, stop=[])
    session = ChatSession(engine, args, {}, "Answer briefly and factually.")
    written = []
    answer = session.turn("What is the capital of France?", written.append)
    assert "Paris" in answer and "".join(written) == answer
    assert [m.role for m in session.history] == ["user", "assistant"]
    msgs = session.messages("And of Italy?")
    assert [m.role for m in msgs] == ["system", "user", "assistant", "user"]
    session.reset()
    assert session.history == []
