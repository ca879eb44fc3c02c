"""The torch engine: the Engine contract on a tiny random model, llama.cpp's sampling
semantics, and parity with the llama.cpp engine on the tiny model and the real one."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from helpers.tiny_models import build_model  # noqa: E402
from slmkit.core.engine import Engine  # noqa: E402
from slmkit.core.errors import ContextOverflowError, EngineClosedError  # noqa: E402
from slmkit.core.types import GREEDY, ChatMessage, GenerateRequest, SamplingParams, collect  # noqa: E402
from slmkit.runtime import load_engine  # noqa: E402
from slmkit.runtime.sampler import TokenSampler  # noqa: E402

PROMPT = "Once upon a time there was"


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    torch.set_num_threads(2)
    return build_model(tmp_path_factory.mktemp("tiny-torch") / "m", "llama")


@pytest.fixture(scope="module")
def tiny(tiny_dir):
    eng = load_engine(str(tiny_dir), backend="torch", name="tiny", n_ctx=64, n_threads=2)
    yield eng
    eng.close()


@pytest.fixture(scope="module")
def tiny_llama(tiny_dir, tmp_path_factory):
    from slmkit.convert import hf_to_gguf

    path = hf_to_gguf(tiny_dir, tmp_path_factory.mktemp("tiny-gguf") / "m.gguf")
    eng = load_engine(str(path), name="tiny", n_ctx=64, n_threads=2)
    yield eng
    eng.close()


def test_satisfies_the_engine_protocol(tiny):
    assert isinstance(tiny, Engine)
    info = tiny.info
    assert info.architecture == "llama" and info.n_ctx == 64 and info.n_ctx_train == 256
    assert info.n_vocab == 320 and info.quantization == "F32" and info.n_params > 0
    assert "<|im_start|>" in info.chat_template and tiny.load_seconds > 0


def test_tokenize_detokenize_and_special_tokens(tiny):
    ids = tiny.tokenize("Hello world <|im_end|>")
    assert ids[-1] == 2  # special-token text is parsed
    assert tiny.tokenize("", add_special=True) == []  # this tokenizer adds no BOS
    text = "Paris, 12345 — Ünïcödé"
    assert tiny.detokenize(tiny.tokenize(text)) == text
    assert tiny.detokenize([2]) == ""  # special tokens render as nothing


def test_render_chat_uses_the_template(tiny):
    out = tiny.render_chat([ChatMessage("user", "hi")])
    assert out == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"


def test_stream_has_one_final_chunk_and_respects_max_tokens(tiny):
    chunks = list(tiny.generate(GenerateRequest(prompt=PROMPT, max_tokens=7, sampling=GREEDY)))
    finals = [c for c in chunks if c.finish_reason is not None]
    assert finals == [chunks[-1]]
    usage = chunks[-1].usage
    assert usage.completion_tokens == sum(len(c.token_ids) for c in chunks) <= 7
    assert usage.prompt_tokens == len(tiny.tokenize(PROMPT))


def test_greedy_is_deterministic_and_matches_scoring(tiny):
    req = lambda: GenerateRequest(prompt=PROMPT, max_tokens=10, sampling=GREEDY,  # noqa: E731
                                  logprobs=2)
    a, b = collect(tiny.generate(req())), collect(tiny.generate(req()))
    assert a.token_ids == b.token_ids and a.text == b.text
    assert b.usage.cached_tokens == b.usage.prompt_tokens - 1  # the prefix was reused
    for lp in a.logprobs:
        assert lp.top[0].token == lp.token and math.isclose(lp.top[0].logprob, lp.logprob)
    prompt = tiny.tokenize(PROMPT)
    scored = tiny.token_logprobs(prompt + a.token_ids, top=1)
    assert len(scored) == len(prompt) + len(a.token_ids) - 1
    for got, want in zip(scored[len(prompt) - 1:], a.logprobs):
        assert got.token == want.token and got.logprob == pytest.approx(want.logprob, abs=1e-4)


def test_stop_strings_are_not_emitted(tiny):
    base = collect(tiny.generate(GenerateRequest(prompt=PROMPT, max_tokens=20,
                                                 sampling=GREEDY))).text
    stop = base[len(base) // 2: len(base) // 2 + 2]
    if not stop.strip():
        pytest.skip("generated text too uniform to pick a stop string")
    done = collect(tiny.generate(GenerateRequest(prompt=PROMPT, max_tokens=20, sampling=GREEDY,
                                                 stop=[stop])))
    assert done.finish_reason == "stop" and stop not in done.text
    assert base.startswith(done.text)


def test_seeded_sampling_is_reproducible(tiny):
    def sample(seed):
        req = GenerateRequest(prompt=PROMPT, max_tokens=12,
                              sampling=SamplingParams(temperature=1.5, top_k=0, top_p=1.0,
                                                      min_p=0.0, seed=seed))
        return collect(tiny.generate(req)).token_ids

    assert sample(3) == sample(3)
    assert len({tuple(sample(s)) for s in range(5)}) > 1


def test_closing_a_stream_early_leaves_the_engine_usable(tiny):
    stream = tiny.generate(GenerateRequest(prompt=PROMPT, max_tokens=30, sampling=GREEDY))
    next(stream)
    stream.close()
    again = collect(tiny.generate(GenerateRequest(prompt=PROMPT, max_tokens=5, sampling=GREEDY)))
    fresh = load_engine(tiny.info.path, backend="torch", n_ctx=64, n_threads=2)
    want = collect(fresh.generate(GenerateRequest(prompt=PROMPT, max_tokens=5, sampling=GREEDY)))
    fresh.close()
    assert again.token_ids == want.token_ids


def test_logits_and_context_errors(tiny):
    ids = tiny.tokenize("The quick brown fox jumps over the lazy dog.")
    full = tiny.logits(ids)
    assert full.shape == (len(ids), 320) and full.dtype == np.float32
    assert np.allclose(tiny.logits(ids, first=4), full[4:], atol=1e-4)
    with pytest.raises(ValueError):
        tiny.logits(ids, first=len(ids))
    with pytest.raises(ContextOverflowError):
        tiny.token_logprobs(list(range(65)))
    with pytest.raises(ContextOverflowError):
        tiny.generate(GenerateRequest(prompt_tokens=list(range(3, 70)), max_tokens=1))
    done = collect(tiny.generate(GenerateRequest(prompt_tokens=list(range(3, 70)), max_tokens=4,
                                                 truncate=True, sampling=GREEDY)))
    assert done.usage.prompt_tokens < 64
    with pytest.raises(NotImplementedError, match="grammar"):
        tiny.generate(GenerateRequest(prompt="x", json_schema={}))


def test_embeddings_are_normalised(tiny):
    vecs = tiny.embed(["hello world", "a river"])
    assert len(vecs) == 2 and len(vecs[0]) == 64
    assert math.isclose(sum(v * v for v in vecs[0]), 1.0, rel_tol=1e-4)


def test_greedy_tokens_match_llamacpp_on_the_same_weights(tiny, tiny_llama):
    for prompt in (PROMPT, "Paris is the capital of"):
        ours, theirs = (collect(e.generate(GenerateRequest(prompt=prompt, max_tokens=16,
                                                           sampling=GREEDY)))
                        for e in (tiny, tiny_llama))
        assert ours.token_ids == theirs.token_ids


def test_closed_engine_refuses_calls(tiny_dir):
    eng = load_engine(str(tiny_dir), backend="torch", n_ctx=32, n_threads=2)
    eng.close()
    eng.close()
    with pytest.raises(EngineClosedError):
        eng.tokenize("x")


# ---- the sampler ------------------------------------------------------------------------------

def _draws(params: SamplingParams, logits, n=300) -> set[int]:
    s = TokenSampler(params)
    return {s.sample(torch.tensor(logits, dtype=torch.float32)) for _ in range(n)}


def test_sampler_filters_follow_llamacpp():
    logits = [4.0, 3.0, 2.0, 1.0, -5.0]
    free = {"temperature": 1.0, "top_k": 0, "top_p": 1.0, "min_p": 0.0, "seed": 1}
    assert _draws(SamplingParams(**{**free, "temperature": 0.0}), logits, 5) == {0}
    assert _draws(SamplingParams(**{**free, "top_k": 2}), logits) == {0, 1}
    # softmax of [4,3,2,1,-5]: .644 .237 .087 .032 ~0 -> top_p .85 keeps the first two
    assert _draws(SamplingParams(**{**free, "top_p": 0.85}), logits) == {0, 1}
    # min_p .1 keeps p >= .1·p_max: exp(-1)=.37, exp(-2)=.14 pass, exp(-3)=.05 does not
    assert _draws(SamplingParams(**{**free, "min_p": 0.1}), logits) == {0, 1, 2}


def test_repeat_penalty_discourages_recent_tokens():
    s = TokenSampler(SamplingParams(temperature=0.0, repeat_penalty=2.0, repeat_last_n=4))
    logits = torch.tensor([2.0, 1.5, -1.0])
    assert s.sample(logits) == 0  # then token 0 is penalised: 2.0 / 2 = 1.0 < 1.5
    assert s.sample(logits) == 1


# ---- the real default model -------------------------------------------------------------------

@pytest.fixture(scope="module")
def real_torch(default_model_path):
    torch.set_num_threads(2)
    eng = load_engine(default_model_path, backend="torch", name="smollm2-135m-instruct",
                      n_ctx=1024, n_threads=2)
    yield eng
    eng.close()


@pytest.mark.integration
def test_real_model_answers_and_tokenizes_like_llamacpp(real_torch, engine):
    msgs = [ChatMessage("system", "Answer briefly and factually."),
            ChatMessage("user", "What is the capital of France?")]
    done = collect(real_torch.generate(GenerateRequest(messages=msgs, sampling=GREEDY,
                                                       max_tokens=24)))
    assert "Paris" in done.text and done.finish_reason == "stop"
    assert real_torch.render_chat(msgs) == engine.render_chat(msgs)
    for text in ("In 1938, he earned 12,345 dollars.", "naïve café — 한국어", "<|im_start|>user"):
        assert real_torch.tokenize(text) == engine.tokenize(text)


@pytest.mark.integration
def test_real_model_greedy_parity_with_llamacpp(real_torch, engine):
    """Q4_1 in llama.cpp (activations quantized to 8 bits in its kernels) against the same
    weights dequantized in torch: the first tokens of a greedy answer agree."""
    ours, theirs = (collect(e.generate(GenerateRequest(
        prompt="The history of the city of Rome", max_tokens=8, sampling=GREEDY)))
        for e in (real_torch, engine))
    assert ours.token_ids[:4] == theirs.token_ids[:4]
