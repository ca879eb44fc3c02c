"""`slm eval`, `slm bench` and `slm convert` end to end on a tiny random model."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from helpers.tiny_models import CORPUS, build_model  # noqa: E402
from slmkit.cli.main import main  # noqa: E402


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    import torch

    from slmkit.convert import hf_to_gguf

    torch.set_num_threads(2)
    root = tmp_path_factory.mktemp("cli")
    hf = build_model(root / "tiny-hf", "llama")
    return {"hf": hf, "f32": hf_to_gguf(hf, root / "tiny-f32.gguf"),
            "q8": hf_to_gguf(hf, root / "tiny-q8.gguf", out_type="q8_0"), "root": root}


@pytest.fixture
def homes(tmp_path, monkeypatch):
    for var, sub in (("SLM_HOME", "store"), ("SLM_DATA_HOME", "data"),
                     ("SLM_CACHE_HOME", "cache")):
        monkeypatch.setenv(var, str(tmp_path / sub))
    return tmp_path


def _json(capsys, argv) -> dict:
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def _json_error(capsys, argv) -> dict:
    assert main(argv) == 1
    return json.loads(capsys.readouterr().out)


def test_eval_ppl_kld_and_choice(tiny, homes, capsys):
    text = homes / "prose.txt"
    text.write_text(" ".join(CORPUS))
    quiz = homes / "quiz.jsonl"
    quiz.write_text("\n".join(json.dumps({"question": f"Q{i}?", "choices": ["yes", "no"],
                                          "answer": i % 2}) for i in range(6)))
    common = ["--threads", "2", "--ctx", "256", "--chunk", "32", "--chunks", "3", "--json"]
    out = _json(capsys, ["eval", str(tiny["q8"]), "--ppl", str(text), "--kld", "--reference",
                         str(tiny["f32"]), "--choice", str(quiz), "--shots", "0,1", *common])
    assert out["engine"] == "llamacpp" and out["model"] == "tiny-q8"
    k, p = out["kld"], out["ppl"]
    assert k["exact"] and k["n_chunks"] == 3 and k["n_scored"] == 3 * 15 and not k["cached"]
    assert 0 <= k["kld_mean"] < 0.05 and k["top1_agreement"] > 0.8
    assert p["ppl"] == k["ppl"] and p["n_scored"] == 45
    assert [c["shots"] for c in out["choice"]] == [0, 1]
    assert [c["n"] for c in out["choice"]] == [6, 5] and out["choice"][0]["chance"] == 0.5
    again = _json(capsys, ["eval", str(tiny["f32"]), "--kld", "--reference", str(tiny["f32"]),
                           "--ppl", str(text), *common])
    assert again["kld"]["cached"] and again["kld"]["kld_mean"] < 1e-6
    assert again["kld"]["top1_agreement"] == 1.0


def test_eval_torch_engine_and_reports(tiny, homes, capsys):
    text = homes / "prose.txt"
    text.write_text(" ".join(CORPUS))
    prefix = homes / "reports" / "tiny"
    args = ["--ppl", str(text), "--threads", "2", "--ctx", "256", "--chunk", "32",
            "--chunks", "2", "--out", str(prefix)]
    assert main(["eval", str(tiny["hf"]), *args]) == 0
    md = capsys.readouterr().out
    assert "(torch engine)" in md and "PPL = **" in md
    report = json.loads(prefix.with_suffix(".json").read_text())
    assert prefix.with_suffix(".md").read_text() == md
    on_gguf = _json(capsys, ["eval", f"{tiny['f32']}@torch", *args, "--json"])
    llama = _json(capsys, ["eval", str(tiny["f32"]), *args, "--json"])
    assert on_gguf["engine"] == "torch" and llama["engine"] == "llamacpp"
    assert on_gguf["ppl"]["ppl"] == pytest.approx(report["ppl"]["ppl"], rel=1e-9)
    assert llama["ppl"]["ppl"] == pytest.approx(report["ppl"]["ppl"], rel=1e-2)


def test_eval_usage_errors(tiny, homes, capsys):
    assert main(["eval", str(tiny["f32"]), "--kld"]) == 2
    assert "--reference" in capsys.readouterr().err
    assert main(["eval", str(tiny["f32"]), "--shots", "x", "--choice", "mmlu"]) == 2
    assert main(["eval", "--list-data", "--json"]) == 0
    names = [r["name"] for r in json.loads(capsys.readouterr().out)]
    assert "wikipedia" in names and "mmlu" in names


def test_convert_registers_with_lineage(tiny, homes, capsys):
    from slmkit.models.store import Store

    out = _json(capsys, ["convert", str(tiny["hf"]), "--to", "gguf", "--type", "q8_0",
                         "--name", "tiny-q8", "--json"])
    assert out["registered"] and out["method"] == "convert:hf-to-gguf-q8_0"
    manifest = Store().manifest("tiny-q8")
    assert manifest["parent"] == "tiny-hf" and manifest["method"] == "convert:hf-to-gguf-q8_0"
    assert manifest["gguf"]["quantization"] == "Q8_0"
    back = _json(capsys, ["convert", "tiny-q8", "--to", "hf", "--json"])
    assert back["name"] == "tiny-q8-hf" and Store().manifest("tiny-q8-hf")["kind"] == "directory"
    assert main(["convert", "tiny-q8", "--to", "hf"]) == 2  # exists: needs --force
    capsys.readouterr()
    refused = _json_error(capsys, ["convert", "tiny-q8", "--to", "gguf", "--type", "f16",
                                   "-o", str(homes / "x.gguf"), "--json"])
    assert "requantizing" in refused["message"] and "--allow-requantize" in refused["hint"]
    written = _json(capsys, ["convert", str(tiny["f32"]), "--to", "gguf", "--type", "f16",
                             "-o", str(homes / "x.gguf"), "--json"])
    assert not written["registered"] and written["method"] == "quantize:f16"
    assert (homes / "x.gguf").read_bytes()[:4] == b"GGUF"


def test_bench_compares_engines_with_ratios_and_a_chart(tiny, homes, capsys):
    prefix = homes / "bench" / "tiny"
    out = _json(capsys, ["bench", str(tiny["f32"]), "--compare", f"{tiny['hf']}@torch",
                         "--threads", "2", "--ctx", "256", "--repeat", "1", "--gen", "8",
                         "--out", str(prefix), "--json"])
    labels = [r["label"] for r in out["results"]]
    assert labels == ["tiny-f32@llamacpp", "tiny-hf@torch"]
    for r in out["results"]:
        m = r["metrics"]
        assert m["load_seconds"] > 0 and m["decode_tps"] > 0 and m["peak_rss_mb"] > 10
        assert m["prompt_128_tps"] > 0 and m["ttft_seconds"] > 0
        assert m["prompt_512_tps"] is None  # the tiny model's context is 256 tokens
    assert out["ratios"][0]["decode_tps"] == 1.0 and out["ratios"][1]["decode_tps"] > 0
    png = prefix.with_name("tiny.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "tiny-hf@torch" in prefix.with_suffix(".md").read_text()
    speeds = json.loads((homes / "store" / "speeds.json").read_text())  # the web UI shows it
    assert speeds["tiny-f32"]["source"] == "slm bench" and speeds["tiny-f32"]["decode_tps"] > 0
