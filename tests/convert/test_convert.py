"""GGUF ⇄ HF conversion on tiny random llama / qwen2 / gemma3 models built here.

Each architecture is converted HF → GGUF and loaded by both engines: llama.cpp on the GGUF
and torch on the directory give the same token ids and the same next-token logits (float32
on both sides, so only summation order differs). GGUF(F32) → HF → GGUF(F32) gives back the
same tensors bit for bit and the same metadata."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from helpers.tiny_models import build_model  # noqa: E402
from slmkit.convert import gguf_to_hf, hf_to_gguf  # noqa: E402
from slmkit.convert.constants import SIDECAR  # noqa: E402
from slmkit.convert.to_gguf import UnsupportedModelError, permute_qk  # noqa: E402
from slmkit.convert.tokenizer import UnsupportedTokenizerError, detect_pre_tokenizer  # noqa: E402
from slmkit.runtime import load_engine  # noqa: E402

TEXTS = ["The quick brown fox jumps over the lazy dog.", "Hello 12345 world!! <|im_start|>user\nhi",
         "  spaces  and\ttabs\n\nnewlines", "Ünïcödé → 한국어"]
SCORED = "Paris is the capital of France, and Berlin is the capital of Germany. 1234"


@pytest.fixture(scope="module", autouse=True)
def _two_threads():
    import torch

    torch.set_num_threads(2)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """arch -> (hf dir, f32 gguf) for llama, qwen2 (untied head), gemma3, llama+spm."""
    root = tmp_path_factory.mktemp("tiny")
    out = {}
    for key, arch, kw in (("llama", "llama", {}), ("qwen2", "qwen2", {"tied": False}),
                          ("gemma3", "gemma3", {}), ("spm", "llama", {"pre": "spm"})):
        d = build_model(root / key, arch, **kw)
        out[key] = (d, hf_to_gguf(d, root / f"{key}.gguf"))
    return out


def same_top1(a: np.ndarray, b: np.ndarray, margin: float) -> bool:
    """Both rows pick the same token wherever a's best beats its runner-up by ``margin``."""
    top2 = np.sort(a, axis=1)[:, -2:]
    clear = top2[:, 1] - top2[:, 0] > margin
    return bool(clear.mean() > 0.7 and (a.argmax(1) == b.argmax(1))[clear].all())


def _engines(hf_dir, gguf_path):
    return (load_engine(str(hf_dir), backend="torch", n_ctx=256, n_threads=2),
            load_engine(str(gguf_path), n_ctx=256, n_threads=2))


@pytest.mark.parametrize("key", ["llama", "qwen2", "gemma3", "spm"])
def test_hf_to_gguf_matches_torch_in_llamacpp(tiny, key):
    hf_dir, gguf_path = tiny[key]
    torch_engine, llama_engine = _engines(hf_dir, gguf_path)
    try:
        for text in TEXTS:
            assert llama_engine.tokenize(text) == torch_engine.tokenize(text), text
        ids = torch_engine.tokenize(SCORED)
        a, b = torch_engine.logits(ids), llama_engine.logits(ids)
        assert a.shape == b.shape == (len(ids), torch_engine.info.n_vocab)
        diff = np.abs(a - b).max()
        assert diff < 1e-3 * np.abs(a).max()
        assert same_top1(a, b, 4 * diff)
    finally:
        torch_engine.close()
        llama_engine.close()


@pytest.mark.parametrize("key", ["llama", "qwen2", "gemma3"])
def test_gguf_to_hf_to_gguf_round_trip_is_exact(tiny, key, tmp_path):
    import gguf

    _, src = tiny[key]
    hf_dir = gguf_to_hf(src, tmp_path / "hf")
    assert (hf_dir / SIDECAR).is_file() and (hf_dir / "model.safetensors").is_file()
    back = hf_to_gguf(hf_dir, tmp_path / "back.gguf")
    a, b = gguf.GGUFReader(str(src)), gguf.GGUFReader(str(back))
    ta = {t.name: np.asarray(t.data) for t in a.tensors}
    tb = {t.name: np.asarray(t.data) for t in b.tensors}
    assert sorted(ta) == sorted(tb)
    for name, data in ta.items():
        assert np.array_equal(data, tb[name]), name
    meta_a = {k: str(f.contents()) for k, f in a.fields.items() if not k.startswith("GGUF.")}
    meta_b = {k: str(f.contents()) for k, f in b.fields.items() if not k.startswith("GGUF.")}
    assert meta_a == meta_b


def test_torch_loads_gguf_and_converted_dir_identically(tiny, tmp_path):
    _, src = tiny["gemma3"]  # also checks the query scaling fix for GGUF-loaded Gemma 3
    hf_dir = gguf_to_hf(src, tmp_path / "hf")
    on_gguf = load_engine(str(src), backend="torch", n_ctx=256, n_threads=2)
    on_dir = load_engine(str(hf_dir), backend="torch", n_ctx=256, n_threads=2)
    llama = load_engine(str(src), n_ctx=256, n_threads=2)
    ids = llama.tokenize(SCORED)
    a, b, c = on_gguf.logits(ids), on_dir.logits(ids), llama.logits(ids)
    assert np.array_equal(a, b)
    assert np.abs(a - c).max() < 1e-3 * np.abs(a).max()
    for e in (on_gguf, on_dir, llama):
        e.close()


def test_f16_and_q8_0_outputs(tiny, tmp_path):
    hf_dir, f32 = tiny["llama"]
    f16 = hf_to_gguf(hf_dir, tmp_path / "f16.gguf", out_type="f16")
    q8 = hf_to_gguf(hf_dir, tmp_path / "q8.gguf", out_type="q8_0")
    from slmkit.models.gguf_file import read_gguf

    assert read_gguf(f16).quantization == "F16" and read_gguf(q8).quantization == "Q8_0"
    assert q8.stat().st_size < f16.stat().st_size < f32.stat().st_size
    ref = load_engine(str(f32), n_ctx=256, n_threads=2)
    ids = ref.tokenize(SCORED)
    base = ref.logits(ids)
    for path, tol in ((f16, 0.02), (q8, 0.05)):
        e = load_engine(str(path), n_ctx=256, n_threads=2)
        got = e.logits(ids)
        assert np.abs(got - base).max() < tol * np.abs(base).max()
        assert (got.argmax(1) == base.argmax(1)).mean() > 0.8
        e.close()
    ref.close()


def test_existing_output_is_not_overwritten(tiny, tmp_path):
    hf_dir, _ = tiny["llama"]
    out = tmp_path / "x.gguf"
    out.write_bytes(b"keep")
    with pytest.raises(FileExistsError):
        hf_to_gguf(hf_dir, out)
    assert out.read_bytes() == b"keep"
    hf_to_gguf(hf_dir, out, overwrite=True)
    assert out.read_bytes()[:4] == b"GGUF"


def test_unsupported_architecture_is_refused(tmp_path):
    from transformers import GPT2Config, GPT2LMHeadModel

    GPT2LMHeadModel(GPT2Config(n_layer=1, n_embd=32, n_head=2, vocab_size=64)).save_pretrained(
        str(tmp_path))
    with pytest.raises(UnsupportedModelError, match="gpt2.*supported: gemma3, gemma3_text"):
        hf_to_gguf(tmp_path, tmp_path / "out.gguf")
    assert not (tmp_path / "out.gguf").exists()


def test_unknown_tokenizers_get_a_clear_error(tiny, tmp_path):
    import shutil

    hf_dir, _ = tiny["llama"]
    d = tmp_path / "wp"
    shutil.copytree(hf_dir, d)
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    wp = Tokenizer(models.WordPiece({"[UNK]": 0, "a": 1}, unk_token="[UNK]"))
    wp.pre_tokenizer = pre_tokenizers.Whitespace()
    for name in ("tokenizer.json", "tokenizer_config.json"):
        (d / name).unlink()
    PreTrainedTokenizerFast(tokenizer_object=wp, unk_token="[UNK]").save_pretrained(str(d))
    with pytest.raises(UnsupportedTokenizerError, match="WordPiece"):
        hf_to_gguf(d, tmp_path / "out.gguf")


def test_pre_tokenizer_detection():
    byte_level = {"type": "ByteLevel", "use_regex": True}
    assert detect_pre_tokenizer({"pre_tokenizer": byte_level}) == "gpt-2"
    digits = {"type": "Sequence", "pretokenizers": [
        {"type": "Digits", "individual_digits": True}, byte_level]}
    assert detect_pre_tokenizer({"pre_tokenizer": digits}) == "smollm"
    from slmkit.convert.constants import LLAMA3_SPLIT, QWEN2_SPLIT

    for regex, name in ((LLAMA3_SPLIT, "llama-bpe"), (QWEN2_SPLIT, "qwen2")):
        split = {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": regex}},
            {"type": "ByteLevel", "use_regex": False}]}
        assert detect_pre_tokenizer({"pre_tokenizer": split}) == name
    odd = {"type": "Sequence", "pretokenizers": [{"type": "Whitespace"}, byte_level]}
    with pytest.raises(UnsupportedTokenizerError, match="known here: gpt-2"):
        detect_pre_tokenizer({"pre_tokenizer": odd})


def test_permute_qk_matches_transformers_inverse():
    from transformers.modeling_gguf_pytorch_utils import LlamaTensorProcessor

    w = np.arange(8 * 16 * 3, dtype=np.float32).reshape(8 * 16, 3)
    back = LlamaTensorProcessor()._reverse_permute_weights(permute_qk(w, 8), 8, 8)
    assert np.array_equal(back, w)


def test_sidecar_keeps_the_source_tokenizer(tiny, tmp_path):
    import gguf

    _, src = tiny["spm"]
    hf_dir = gguf_to_hf(src, tmp_path / "hf")
    side = gguf.GGUFReader(str(hf_dir / SIDECAR))
    assert len(side.tensors) == 0
    assert side.fields["tokenizer.ggml.model"].contents() == "llama"
    assert "general.file_type" not in side.fields
    cfg = json.loads((hf_dir / "config.json").read_text())
    assert cfg["model_type"] == "llama" and "quantization_config" not in cfg
