"""HF directory / GGUF → ONNX Runtime GenAI export, its errors, and the CLI around it
(`slm convert --to onnx` with lineage, `slm eval --engine onnx`, `slm run` on the result)."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("onnxruntime_genai")
pytest.importorskip("onnx_ir")

from helpers.tiny_models import CORPUS, build_model
from slmkit.cli.main import main
from slmkit.convert.to_onnx import SIDECAR, hf_to_onnx
from slmkit.core.errors import InvalidModelFileError, SlmError


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    torch.set_num_threads(1)
    return build_model(tmp_path_factory.mktemp("onnx-src") / "tiny-hf", "llama")


@pytest.fixture
def homes(tmp_path, monkeypatch):
    for var, sub in (("SLM_HOME", "store"), ("SLM_DATA_HOME", "data"),
                     ("SLM_CACHE_HOME", "cache")):
        monkeypatch.setenv(var, str(tmp_path / sub))
    return tmp_path


def test_export_writes_a_genai_directory(tiny, tmp_path):
    out = hf_to_onnx(tiny, tmp_path / "int4", precision="int4", block_size=16)
    names = {p.name for p in out.iterdir()}
    assert {"model.onnx", "model.onnx.data", "genai_config.json", "tokenizer.json",
            SIDECAR} <= names
    info = json.loads((out / SIDECAR).read_text())
    assert info["precision"] == "int4" and info["block_size"] == 16
    assert info["architecture"] == "LlamaForCausalLM" and info["n_params"] > 0
    assert b"MatMulNBits" in (out / "model.onnx").read_bytes()
    assert not list(tmp_path.glob(".onnx-export-*"))  # the staging directory is gone
    with pytest.raises(FileExistsError):
        hf_to_onnx(tiny, out, precision="fp32")
    again = hf_to_onnx(tiny, out, precision="fp32", overwrite=True)
    assert json.loads((again / SIDECAR).read_text())["precision"] == "fp32"
    assert b"MatMulNBits" not in (again / "model.onnx").read_bytes()


def test_export_errors_are_clear(tiny, tmp_path):
    with pytest.raises(InvalidModelFileError, match="no such"):
        hf_to_onnx(tmp_path / "missing", tmp_path / "o")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InvalidModelFileError, match="no config.json"):
        hf_to_onnx(empty, tmp_path / "o")
    (empty / "config.json").write_text(json.dumps({"architectures": ["LlamaForCausalLM"]}))
    (empty / "pytorch_model.bin").write_bytes(b"x")
    with pytest.raises(InvalidModelFileError, match="pickled"):
        hf_to_onnx(empty, tmp_path / "o")
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(InvalidModelFileError, match="neither a GGUF"):
        hf_to_onnx(text, tmp_path / "o")
    with pytest.raises(ValueError, match="precision"):
        hf_to_onnx(tiny, tmp_path / "o", precision="q4")
    with pytest.raises(ValueError, match="block_size"):
        hf_to_onnx(tiny, tmp_path / "o", block_size=20)


def test_unsupported_architecture_is_named(tiny, tmp_path):
    import shutil

    odd = tmp_path / "odd"
    shutil.copytree(tiny, odd)
    config = json.loads((odd / "config.json").read_text())
    config["architectures"] = ["GPTNeoXForCausalLM"]
    (odd / "config.json").write_text(json.dumps(config))
    with pytest.raises(SlmError, match="does not support GPTNeoXForCausalLM"):
        hf_to_onnx(odd, tmp_path / "o", precision="fp32")


def test_gguf_input_goes_through_hf(tiny, tmp_path):
    from slmkit.convert import hf_to_gguf

    gguf = hf_to_gguf(tiny, tmp_path / "tiny.gguf")
    out = hf_to_onnx(gguf, tmp_path / "from-gguf", precision="fp32")
    info = json.loads((out / SIDECAR).read_text())
    assert info["via"] == "gguf-to-hf" and info["source"] == str(gguf)
    assert (out / "genai_config.json").is_file()
    assert not list(tmp_path.glob(".onnx-hf-*"))


def test_cli_convert_registers_and_eval_and_run_use_onnx(tiny, homes, capsys):
    from slmkit.models.store import Store

    assert main(["convert", str(tiny), "--to", "onnx", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["registered"] and out["name"] == "tiny-onnx-int4"
    assert out["method"] == "convert:hf-to-onnx-int4"
    manifest = Store().manifest("tiny-onnx-int4")
    assert manifest["parent"] == "tiny-hf" and manifest["kind"] == "directory"
    assert main(["convert", str(tiny), "--to", "onnx", "--type", "q8_0"]) != 0  # a GGUF type
    capsys.readouterr()

    text = homes / "prose.txt"
    text.write_text(" ".join(CORPUS))
    for engine in ("auto", "onnx"):
        assert main(["eval", "tiny-onnx-int4", "--engine", engine, "--ppl", str(text),
                     "--ctx", "256", "--chunk", "32", "--chunks", "2", "--threads", "1",
                     "--json"]) == 0
        report = json.loads(capsys.readouterr().out)
        assert report["engine"] == "onnx" and report["ppl"]["n_chunks"] == 2
        assert report["ppl"]["ppl"] > 1

    assert main(["run", "tiny-onnx-int4", "Once upon a time", "--max-tokens", "5",
                 "--temperature", "0", "--threads", "1", "--json"]) == 0
    done = json.loads(capsys.readouterr().out)
    assert done["usage"]["completion_tokens"] <= 5


def test_cli_convert_calibrated_int4_records_its_calibration(tiny, homes, capsys):
    text = homes / "calib.txt"
    text.write_text("\n".join(CORPUS * 8))
    assert main(["convert", str(tiny), "--to", "onnx", "--calibrate", str(text),
                 "--calib-tokens", "256", "--name", "tiny-awq", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["method"].startswith("convert:hf-to-onnx-int4+awq(data=")
    assert "tokens=256" in out["method"]
    assert main(["run", "tiny-awq", "Once upon a time", "--max-tokens", "3",
                 "--temperature", "0", "--threads", "1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["usage"]["completion_tokens"] <= 3
    for bad in (["--to", "gguf"], ["--to", "onnx", "--type", "fp32"],
                ["--to", "onnx", "--block-size", "64"]):
        assert main(["convert", str(tiny), *bad, "--calibrate", str(text), "--name", "x",
                     "--json"]) != 0
        got = capsys.readouterr()
        assert "--calibrate" in got.out + got.err
