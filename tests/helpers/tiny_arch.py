"""What every architecture in :mod:`slmkit.arch` must survive, as reusable checks on a tiny
random model built from a transformers config: HF → GGUF (F32) agrees with torch in
llama.cpp; llama.cpp's own Q8_0 quantizer keeps it close and it generates; the scale groups
fold without changing the function; each structured prune the spec allows still loads in
llama.cpp with torch's logits. A new family's test builds its config and calls these."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from helpers.tiny_models import CORPUS, build_tokenizer

SCORED = "Paris is the capital of France, and Berlin is the capital of Germany. 1234"
PROMPT = "Once upon a time there was"
TEXTS = [SCORED, "Hello 12345 world!! <|im_start|>user\nhi", "  spaces  and\ttabs\n\n"]


def tiny_dims(**over) -> dict:
    """The dimensions every tiny test model shares (4 query / 2 KV heads, 2 layers)."""
    dims = {"hidden_size": 64, "intermediate_size": 128, "num_attention_heads": 4,
            "num_key_value_heads": 2, "num_hidden_layers": 2, "max_position_embeddings": 256,
            "rms_norm_eps": 1e-5, "tie_word_embeddings": True, "bos_token_id": 1,
            "eos_token_id": 2, "pad_token_id": 2}
    dims.update(over)
    return dims


def build_tiny(out: Path, config, *, seed: int = 0) -> Path:
    """A random model of ``config`` (vocab set to the tiny BPE tokenizer's) with peaked
    next-token distributions, saved with its tokenizer into ``out``."""
    import torch
    from transformers import AutoModelForCausalLM

    from slmkit import arch

    out = Path(out)
    tok = build_tokenizer(out)
    config.vocab_size = len(tok)
    spec = arch.for_hf(config.model_type)
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.ndim >= 2:
                p.normal_(0.0, 1.0 if "embed" in name else 0.15)
            elif "norm" in name:  # gains near 1 as the model applies them
                p.uniform_(0.8 - spec.norm_offset, 1.2 - spec.norm_offset)
            else:
                p.normal_(0.0, 0.1)
    model.save_pretrained(str(out))
    return out


def engines_agree(hf_dir, gguf_path, *, rel: float = 1e-3) -> None:
    """torch on ``hf_dir`` and llama.cpp on the F32 ``gguf_path``: same token ids, same
    logits up to float summation order."""
    from slmkit.runtime import load_engine

    hf = load_engine(str(hf_dir), backend="torch", n_ctx=128, n_threads=1)
    # flash attention off: llama.cpp's CPU flash kernel rounds Q and V·softmax through f16
    cpp = load_engine(str(gguf_path), n_ctx=128, n_threads=1, flash_attn=False)
    try:
        for text in TEXTS:
            assert cpp.tokenize(text) == hf.tokenize(text), text
        ids = hf.tokenize(SCORED)
        a, b = hf.logits(ids), cpp.logits(ids)
        assert a.shape == b.shape == (len(ids), hf.info.n_vocab)
        diff = float(np.abs(a - b).max())
        assert diff < rel * float(np.abs(a).max()), (diff, float(np.abs(a).max()))
        assert (a.argmax(1) == b.argmax(1)).mean() > 0.9
    finally:
        hf.close()
        cpp.close()


def greedy(gguf_path, n: int = 8) -> list[int]:
    """The token ids llama.cpp generates greedily after :data:`PROMPT`."""
    from slmkit.core.types import GenerateRequest, SamplingParams
    from slmkit.runtime import load_engine

    eng = load_engine(str(gguf_path), n_ctx=128, n_threads=1)
    try:
        request = GenerateRequest(prompt=PROMPT, max_tokens=n,
                                  sampling=SamplingParams(temperature=0.0))
        ids = [t for chunk in eng.generate(request) for t in (chunk.token_ids or ())]
    finally:
        eng.close()
    return ids


def convert_quantize_run(hf_dir: Path, tmp: Path) -> dict:
    """HF → F32 GGUF (checked against torch) → Q8_0 by llama.cpp (checked against F32) →
    generated text. Returns the paths and the generated ids."""
    from slmkit.convert import hf_to_gguf
    from slmkit.models.gguf_file import read_gguf
    from slmkit.runtime import load_engine

    f32 = hf_to_gguf(hf_dir, tmp / "f32.gguf")
    engines_agree(hf_dir, f32)
    q8 = hf_to_gguf(hf_dir, tmp / "q8.gguf", out_type="q8_0")
    assert read_gguf(q8).quantization == "Q8_0"
    ref, quant = (load_engine(str(p), n_ctx=128, n_threads=1) for p in (f32, q8))
    try:
        ids = ref.tokenize(SCORED)
        base, got = ref.logits(ids), quant.logits(ids)
    finally:
        ref.close()
        quant.close()
    assert np.abs(got - base).max() < 0.05 * np.abs(base).max()
    assert (got.argmax(1) == base.argmax(1)).mean() > 0.8
    out_f32, out_q8 = greedy(f32), greedy(q8)
    assert out_f32, "llama.cpp generated nothing from the F32 GGUF"
    assert out_q8[:1] == out_f32[:1]  # peaked weights: the first step is a clear choice
    return {"f32": f32, "q8_0": q8, "generated": out_q8}


def folds_keep_function(hf_dir: Path) -> None:
    """AWQ calibration and channel rescaling leave the float model's logits unchanged."""
    import torch
    from transformers import AutoModelForCausalLM

    from slmkit.compress import calibrate as cal
    from slmkit.compress import reference as ref

    model = AutoModelForCausalLM.from_pretrained(str(hf_dir), dtype=torch.float32).eval()
    n_vocab = model.config.vocab_size
    ids = torch.randint(0, n_vocab, (2, 48), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        before = model(input_ids=ids).logits
    result = cal.calibrate(model, cal.collect(model, ids, n_sample=64), "Q4_0")
    assert result.alphas and len(result.imatrix) >= 7 * model.config.num_hidden_layers
    assert ref.rescale(model, seed=0) > 0
    with torch.no_grad():
        after = model(input_ids=ids).logits
    torch.testing.assert_close(after, before, rtol=1e-4, atol=1e-4 * float(before.abs().max()))


def prunes_load(hf_dir: Path, tmp: Path) -> list[str]:
    """Every structured prune the architecture allows: the pruned model's F32 GGUF loads in
    llama.cpp and agrees with torch. Returns the modes tried."""
    from slmkit import arch
    from slmkit.arch.base import PRUNE_MODES
    from slmkit.compress import structured as S

    data = tmp / "calib.txt"
    data.write_text("\n".join(CORPUS), encoding="utf-8")
    spec = arch.for_hf(_model_type(hf_dir))
    modes = [m for m in PRUNE_MODES if not spec.prune_refusal(m)]
    for mode in modes:
        r = S.prune(str(hf_dir), str(tmp / mode), mode=mode, ratio=0.5, data=str(data),
                    seq_len=32, n_samples=8, gguf_type="f32")
        assert r["parameters_after"] < r["parameters_before"], mode
        engines_agree(r["hf_dir"], r["gguf"])
    return modes


def _model_type(hf_dir: Path) -> str:
    import json

    return json.loads((Path(hf_dir) / "config.json").read_text())["model_type"]
