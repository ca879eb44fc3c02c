"""The ONNX Runtime engine: the Engine contract on a tiny random model exported with
onnxruntime-genai's builder, parity with the torch engine (fp32), int4 sanity, errors,
and the real default model exported to int4 (integration)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("onnxruntime_genai")
pytest.importorskip("onnx_ir")

from helpers.tiny_models import build_model
from slmkit.core.engine import Engine
from slmkit.core.errors import (
    ContextOverflowError,
    EngineClosedError,
    InvalidModelFileError,
    UnsupportedOperationError,
)
from slmkit.core.types import (
    GREEDY,
    ChatMessage,
    GenerateRequest,
    SamplingParams,
    collect,
)
from slmkit.runtime import load_engine

PROMPT = "Once upon a time there was"
TEXT = "Paris is the capital of France, and Berlin is the capital of Germany."


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    from slmkit.convert.to_onnx import hf_to_onnx

    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("tiny-onnx")
    hf = build_model(root / "hf", "llama")
    return {"hf": hf, "fp32": hf_to_onnx(hf, root / "fp32", precision="fp32"),
            "int4": hf_to_onnx(hf, root / "int4", precision="int4", block_size=32)}


@pytest.fixture(scope="module")
def onnx(exported):
    eng = load_engine(str(exported["fp32"]), backend="onnx", name="tiny", n_ctx=64,
                      n_threads=1)
    yield eng
    eng.close()


@pytest.fixture(scope="module")
def int4(exported):
    eng = load_engine(str(exported["int4"]), backend="onnx", name="tiny-int4", n_ctx=64,
                      n_threads=1)
    yield eng
    eng.close()


@pytest.fixture(scope="module")
def ref(exported):
    eng = load_engine(str(exported["hf"]), backend="torch", name="tiny", n_ctx=64, n_threads=1)
    yield eng
    eng.close()


def _greedy(engine, prompt=PROMPT, n=24, **kw):
    return collect(engine.generate(GenerateRequest(prompt=prompt, max_tokens=n,
                                                   sampling=GREEDY, **kw)))


def _lps(engine, tokens):
    return np.array([t.logprob for t in engine.token_logprobs(tokens)])


def test_satisfies_the_engine_protocol(onnx, int4):
    assert isinstance(onnx, Engine)
    info = onnx.info
    assert info.architecture == "llama" and info.n_ctx == 64 and info.n_ctx_train == 256
    assert info.n_vocab == 320 and info.quantization == "onnx-fp32" and info.n_params > 0
    assert info.n_embd == 64 and "<|im_start|>" in info.chat_template
    assert not info.capabilities.embed and onnx.load_seconds > 0
    assert int4.info.quantization == "onnx-int4"
    assert 0 < int4.info.size_bytes < info.size_bytes / 2


def test_tokens_match_the_hf_tokenizer(onnx, ref):
    for text in (PROMPT, "Hello world <|im_end|>", "1234 Ünïcödé — ok", ""):
        assert onnx.tokenize(text) == ref.tokenize(text)
    assert onnx.tokenize("x <|im_end|>")[-1] == 2  # special-token text is parsed
    text = "Paris, 12345 — Ünïcödé"
    assert onnx.detokenize(onnx.tokenize(text)) == text
    assert onnx.detokenize([2]) == ""


def test_render_chat_uses_the_template(onnx):
    out = onnx.render_chat([ChatMessage("user", "hi")])
    assert out == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"


def test_stream_has_one_final_chunk_and_usage(onnx):
    chunks = list(onnx.generate(GenerateRequest(prompt=PROMPT, max_tokens=7, sampling=GREEDY)))
    finals = [c for c in chunks if c.finish_reason is not None]
    assert finals == [chunks[-1]]
    usage = chunks[-1].usage
    assert usage.completion_tokens == sum(len(c.token_ids) for c in chunks) <= 7
    assert usage.prompt_tokens == len(onnx.tokenize(PROMPT))
    assert usage.prompt_seconds > 0 and usage.decode_seconds >= 0


def test_fp32_greedy_equals_torch_greedy(onnx, ref):
    for prompt in (PROMPT, TEXT, "1234567890 numbers"):
        a, b = _greedy(onnx, prompt), _greedy(ref, prompt)
        assert a.token_ids == b.token_ids and a.text == b.text and a.finish_reason == \
            b.finish_reason
    chat = [ChatMessage("user", "Where is Paris?")]
    a = collect(onnx.generate(GenerateRequest(messages=chat, max_tokens=16, sampling=GREEDY)))
    b = collect(ref.generate(GenerateRequest(messages=chat, max_tokens=16, sampling=GREEDY)))
    assert a.token_ids == b.token_ids


def test_fp32_logprobs_match_torch(onnx, ref):
    tokens = ref.tokenize(TEXT)
    np.testing.assert_allclose(_lps(onnx, tokens), _lps(ref, tokens), atol=1e-3)
    top = onnx.token_logprobs(tokens[:6], top=3)
    assert len(top) == 5 and all(len(t.top) == 3 for t in top)
    assert top[0].top[0].logprob >= top[0].top[1].logprob >= top[0].top[2].logprob
    rows = onnx.logits(tokens, first=4)
    assert rows.shape == (len(tokens) - 4, 320) and rows.dtype == np.float32
    np.testing.assert_allclose(rows, ref.logits(tokens, first=4), atol=1e-3)
    assert onnx.token_logprobs(tokens[:1]) == []


def test_scoring_in_pieces_and_prefix_reuse_agree(exported, onnx):
    tokens = onnx.tokenize(TEXT)
    whole = _lps(onnx, tokens)
    small = load_engine(str(exported["fp32"]), backend="onnx", n_ctx=64, n_threads=1, n_batch=3)
    try:
        np.testing.assert_allclose(_lps(small, tokens), whole, atol=1e-4)
    finally:
        small.close()
    first = _greedy(onnx, TEXT, 8)
    again = _greedy(onnx, TEXT, 8)  # same prompt: all but its last token come from the cache
    assert again.usage.cached_tokens == len(tokens) - 1 and again.token_ids == first.token_ids
    np.testing.assert_allclose(_lps(onnx, tokens), whole, atol=1e-4)  # after a rewind


def test_generate_logprobs_agree_with_scoring(onnx):
    done = _greedy(onnx, PROMPT, 6, logprobs=2)
    assert len(done.logprobs) == len(done.token_ids) and all(len(t.top) == 2
                                                             for t in done.logprobs)
    scored = onnx.token_logprobs(onnx.tokenize(PROMPT) + done.token_ids)
    tail = [t.logprob for t in scored[-len(done.token_ids):]]
    np.testing.assert_allclose([t.logprob for t in done.logprobs], tail, atol=1e-4)


def test_stop_strings_are_cut(onnx):
    full = _greedy(onnx, PROMPT, 24)
    at = next(k for k in range(1, len(full.text) - 1)
              if full.text.find(full.text[k:k + 2]) == k and "\ufffd" not in full.text[:k + 2])
    cut = _greedy(onnx, PROMPT, 24, stop=[full.text[at:at + 2]])
    assert cut.text == full.text[:at] and cut.finish_reason == "stop"


def test_sampling_is_seeded_and_top_k_1_is_greedy(onnx):
    def run(**kw):
        params = SamplingParams(temperature=1.5, top_k=0, top_p=1.0, min_p=0.0, **kw)
        return collect(onnx.generate(GenerateRequest(prompt=PROMPT, max_tokens=16,
                                                     sampling=params))).token_ids
    assert run(seed=7) == run(seed=7)
    assert len({tuple(run(seed=s)) for s in range(4)}) > 1
    one = collect(onnx.generate(GenerateRequest(
        prompt=PROMPT, max_tokens=16, sampling=SamplingParams(temperature=0.9, top_k=1))))
    assert one.token_ids == _greedy(onnx, PROMPT, 16).token_ids


def test_overflow_truncate_and_bad_requests(onnx):
    long = "The quick brown fox jumps over the lazy dog. " * 20
    n = len(onnx.tokenize(long))
    assert n > 64
    with pytest.raises(ContextOverflowError) as err:
        onnx.generate(GenerateRequest(prompt=long, max_tokens=4, sampling=GREEDY))
    assert (err.value.n_prompt, err.value.n_ctx) == (n, 64)
    done = collect(onnx.generate(GenerateRequest(prompt=long, max_tokens=4, sampling=GREEDY,
                                                 truncate=True)))
    assert done.usage.prompt_tokens < 64 and done.usage.completion_tokens == 4
    with pytest.raises(ContextOverflowError):
        onnx.token_logprobs(onnx.tokenize(long))
    with pytest.raises(ValueError):
        onnx.generate(GenerateRequest(prompt="", sampling=GREEDY))
    with pytest.raises(ValueError):
        onnx.generate(GenerateRequest(prompt_tokens=[5, 999999], sampling=GREEDY))
    with pytest.raises(UnsupportedOperationError):
        onnx.generate(GenerateRequest(prompt="x", json_schema={}))
    with pytest.raises(NotImplementedError):
        onnx.embed(["x"])


def test_int4_generates_and_stays_close_to_fp32(onnx, int4):
    done = _greedy(int4, PROMPT, 12)
    assert done.usage.completion_tokens > 0 and done.finish_reason in ("stop", "length")
    tokens = onnx.tokenize(f"{TEXT} {PROMPT} The river carried spring water.")
    a, b = _lps(onnx, tokens), _lps(int4, tokens)
    assert not np.allclose(a, b, atol=1e-3)  # it really is quantized
    # sanity: the tiny random model's peaked logits (N(0,1) tied embeddings) move a lot
    # under 4-bit weights, but the scores stay correlated and finite
    assert np.isfinite(b).all() and np.corrcoef(a, b)[0, 1] > 0.5


def test_errors_for_missing_and_wrong_paths(tmp_path, exported):
    with pytest.raises(InvalidModelFileError, match="no such ONNX model directory"):
        load_engine(str(tmp_path / "nope"), backend="onnx")
    with pytest.raises(InvalidModelFileError, match="genai_config.json") as err:
        load_engine(str(exported["hf"]), backend="onnx")
    assert "slm convert" in err.value.hint
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "genai_config.json").write_text('{"model": {"type": "llama"}}')
    with pytest.raises(InvalidModelFileError, match="could not load"):
        load_engine(str(broken), backend="onnx")


def test_close_is_idempotent_and_final(exported):
    with load_engine(str(exported["fp32"]), backend="onnx", n_ctx=32, n_threads=1) as eng:
        assert eng.tokenize("hi")
    eng.close()
    with pytest.raises(EngineClosedError):
        eng.tokenize("hi")
    with pytest.raises(EngineClosedError):
        eng.generate(GenerateRequest(prompt="hi"))


def test_backend_detection_finds_onnx_directories(exported, tmp_path):
    from slmkit.models.load import split_engine
    from slmkit.runtime import detect_backend

    assert detect_backend(exported["fp32"]) == "onnx"
    assert detect_backend(exported["hf"]) == "torch"
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF")
    assert detect_backend(gguf) == "llamacpp"
    assert split_engine("x@onnx") == ("x", "onnx")


# ---- the real default model ---------------------------------------------------------------

@pytest.fixture(scope="module")
def real_int4(default_model_ref):
    from filelock import FileLock

    from helpers.converted import converted, shared_test_home
    from slmkit.convert.to_onnx import hf_to_onnx

    hf = converted(default_model_ref.path, default_model_ref.sha256)["hf"]
    out = shared_test_home() / "converted" / hf.parent.name / "onnx-int4"
    with FileLock(str(hf.parent / ".lock")):
        if not (out / "genai_config.json").is_file():
            hf_to_onnx(hf, out, precision="int4", overwrite=True)
    eng = load_engine(str(out), backend="onnx", name="smollm2-onnx-int4", n_ctx=2048,
                      n_threads=2)
    yield eng
    eng.close()


@pytest.mark.integration
def test_real_model_int4_answers_paris(real_int4):
    assert real_int4.info.quantization == "onnx-int4"
    assert real_int4.info.size_bytes < 120 * 2**20  # vs 540 MB in fp32
    done = collect(real_int4.generate(GenerateRequest(
        messages=[ChatMessage("user", "What is the capital of France?")], max_tokens=24,
        sampling=GREEDY)))
    assert "Paris" in done.text


@pytest.mark.integration
def test_real_model_int4_perplexity(real_int4, monkeypatch):
    from helpers.converted import shared_test_home
    from slmkit.evaluate import datasets
    from slmkit.evaluate.perplexity import perplexity

    monkeypatch.setenv("SLM_DATA_HOME", str(shared_test_home() / "datasets"))  # fetched once
    text = datasets.load_text(datasets.resolve("wikipedia", kind="text"))
    result = perplexity(real_int4, text, chunk=512, max_chunks=2)
    assert result.n_chunks == 2 and 5 < result.ppl < 100
