"""The llama.cpp engine on the real default model (greedy decoding is deterministic)."""

import math

import pytest

from slmkit.core.engine import Engine
from slmkit.core.errors import ContextOverflowError, EngineClosedError, InvalidModelFileError
from slmkit.core.types import GREEDY, ChatMessage, GenerateRequest, SamplingParams, collect

pytestmark = pytest.mark.integration

FRANCE = [ChatMessage("system", "Answer briefly and factually."),
          ChatMessage("user", "What is the capital of France?")]


def test_engine_satisfies_protocol(engine):
    assert isinstance(engine, Engine)
    assert engine.info.architecture == "llama" and engine.info.n_ctx == 2048
    assert engine.info.n_vocab == 49152 and engine.info.quantization == "Q4_1"
    assert "<|im_start|>" in engine.info.chat_template


def test_greedy_answer_mentions_paris(engine):
    done = collect(engine.generate(GenerateRequest(messages=FRANCE, sampling=GREEDY,
                                                   max_tokens=48)))
    assert "Paris" in done.text
    assert done.finish_reason == "stop"
    assert done.usage.completion_tokens == len(done.token_ids) > 0
    assert done.usage.prompt_tokens == len(engine.prompt_tokens(
        GenerateRequest(messages=FRANCE)))


def test_stream_has_one_final_chunk(engine):
    chunks = list(engine.generate(GenerateRequest(prompt="Once upon a time", sampling=GREEDY,
                                                  max_tokens=10)))
    finals = [c for c in chunks if c.finish_reason is not None]
    assert finals == [chunks[-1]] and chunks[-1].finish_reason == "length"
    assert chunks[-1].usage.completion_tokens == 10


def test_stop_string_is_honoured_and_not_emitted(engine):
    base = collect(engine.generate(GenerateRequest(prompt="Once upon a time", sampling=GREEDY,
                                                   max_tokens=40))).text
    words = base.split()
    stop = words[3]
    done = collect(engine.generate(GenerateRequest(prompt="Once upon a time", sampling=GREEDY,
                                                   max_tokens=40, stop=[stop])))
    assert done.finish_reason == "stop"
    assert stop not in done.text
    assert base.startswith(done.text)


def test_seed_reproducibility(engine):
    def sample(seed):
        req = GenerateRequest(prompt="My favourite animal is", max_tokens=24,
                              sampling=SamplingParams(temperature=1.0, seed=seed))
        return collect(engine.generate(req)).text
    assert sample(7) == sample(7)
    assert len({sample(s) for s in (1, 2, 3, 4)}) > 1


def test_logprobs_agree_with_scoring(engine):
    prompt = "The quick brown fox"
    done = collect(engine.generate(GenerateRequest(prompt=prompt, sampling=GREEDY,
                                                   max_tokens=8, logprobs=3)))
    assert len(done.logprobs) == 8
    for lp in done.logprobs:  # greedy: the chosen token is the most likely one
        assert lp.top[0].token == lp.token and math.isclose(lp.top[0].logprob, lp.logprob)
        assert lp.logprob <= 0 and len(lp.top) == 3
    prompt_ids = engine.tokenize(prompt)
    scored = engine.token_logprobs(prompt_ids + done.token_ids)
    assert len(scored) == len(prompt_ids) + 8 - 1
    tail = scored[len(prompt_ids) - 1:]
    # Scoring evaluates the sequence in one batch, generation one token per decode; llama.cpp
    # uses different quantized kernels for the two, so values agree closely, not bit for bit.
    for a, b in zip(tail, done.logprobs):
        assert a.token == b.token
        assert a.logprob == pytest.approx(b.logprob, abs=0.15)
    assert tail[0].logprob == pytest.approx(done.logprobs[0].logprob, abs=1e-3)


def test_prefix_is_reused_between_requests(engine):
    req = GenerateRequest(messages=FRANCE, sampling=GREEDY, max_tokens=4)
    collect(engine.generate(req))
    again = collect(engine.generate(req))
    assert again.usage.cached_tokens == again.usage.prompt_tokens - 1


def test_cancelling_a_stream_keeps_the_engine_usable(engine):
    stream = engine.generate(GenerateRequest(prompt="Count: 1, 2, 3,", sampling=GREEDY,
                                             max_tokens=100))
    next(stream)
    stream.close()
    done = collect(engine.generate(GenerateRequest(messages=FRANCE, sampling=GREEDY,
                                                   max_tokens=32)))
    assert "Paris" in done.text


def test_prompt_over_context_names_both_numbers(engine):
    long = "word " * 3000
    with pytest.raises(ContextOverflowError) as info:
        engine.generate(GenerateRequest(prompt=long, max_tokens=4))
    assert "2048" in str(info.value) and str(info.value.n_prompt) in str(info.value)
    done = collect(engine.generate(GenerateRequest(prompt=long, max_tokens=4, truncate=True,
                                                   sampling=GREEDY)))
    assert done.usage.prompt_tokens < 2048 and done.usage.completion_tokens > 0


def test_tokenize_roundtrip(engine):
    text = "Hello, world! 서울"
    ids = engine.tokenize(text, add_special=False)
    assert engine.detokenize(ids) == text


def test_embeddings_are_normalised_and_meaningful(engine):
    a, b, c = engine.embed(["The cat sat on the mat.", "A cat is sitting on a mat.",
                            "Quarterly revenue rose by 4 percent."])
    assert len(a) == engine.info.n_embd
    dot = lambda x, y: sum(p * q for p, q in zip(x, y))  # noqa: E731
    assert dot(a, a) == pytest.approx(1.0, abs=1e-4)
    assert dot(a, b) > dot(a, c)


def test_bad_requests_fail_before_streaming(engine):
    with pytest.raises(ValueError, match="empty"):
        engine.generate(GenerateRequest(prompt=""))
    with pytest.raises(ValueError, match="top_p"):
        engine.generate(GenerateRequest(prompt="x", sampling=SamplingParams(top_p=2)))


def test_corrupt_files_are_clear_errors(tmp_path, default_model_path):
    from slmkit.runtime import load_engine

    truncated = tmp_path / "truncated.gguf"
    with open(default_model_path, "rb") as src:
        truncated.write_bytes(src.read(30_000_000))
    with pytest.raises(InvalidModelFileError, match="not within the file bounds"):
        load_engine(str(truncated))
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"PK\x03\x04 not a model")
    with pytest.raises(InvalidModelFileError):
        load_engine(str(junk))


def test_gpu_offload_on_a_cpu_build_is_refused_not_ignored(default_model_path, monkeypatch):
    from slmkit.core.errors import UnsupportedOperationError
    from slmkit.runtime import load_engine
    from slmkit.runtime.llamacpp.bindings import bindings

    if bindings().llama_supports_gpu_offload():
        pytest.skip("this llama.cpp build can offload: the refusal is for CPU-only builds")
    with pytest.raises(UnsupportedOperationError, match=r"\(-1 layers\).*no GPU backend"):
        load_engine(default_model_path, n_ctx=256, n_gpu_layers=-1)
    monkeypatch.setenv("SLM_GPU_LAYERS", "3")  # the setting is the default, 0 opts out
    with pytest.raises(UnsupportedOperationError, match=r"\(3 layers\)"):
        load_engine(default_model_path, n_ctx=256)
    load_engine(default_model_path, n_ctx=256, n_gpu_layers=0).close()


def test_closed_engine_refuses_calls(default_model_path):
    from slmkit.runtime import load_engine

    eng = load_engine(default_model_path, n_ctx=256)
    eng.close()
    eng.close()  # idempotent
    with pytest.raises(EngineClosedError):
        eng.tokenize("hi")


def test_json_schema_output_always_parses(engine):
    import json

    schema = {"type": "object", "properties": {"city": {"type": "string"},
                                               "population": {"type": "integer"}},
              "required": ["city", "population"]}
    for seed in range(3):
        req = GenerateRequest(messages=[ChatMessage("user", "Describe Paris as JSON.")],
                              json_schema=schema, max_tokens=96,
                              sampling=SamplingParams(temperature=0.8, seed=seed))
        data = json.loads(collect(engine.generate(req)).text)
        assert isinstance(data["city"], str) and isinstance(data["population"], int)


def test_json_strings_cannot_hold_raw_control_characters(engine):
    """JSON forbids a raw newline or tab inside a string; the compiled grammar must too
    (llama-cpp-python's converter allowed them, and strict parsers then failed)."""
    import json

    from slmkit.runtime.llamacpp.sampler import grammar_for

    schema = {"type": "object", "properties": {"poem": {"type": "string"}},
              "required": ["poem"]}
    grammar = grammar_for(GenerateRequest(prompt="x", json_schema=schema))
    char = next(line for line in grammar.splitlines() if line.startswith("char ::="))
    assert r"\x00-\x1F" in char
    for seed in range(4):
        req = GenerateRequest(messages=[ChatMessage(
            "user", 'Write a four-line poem, one line per line, as JSON {"poem": ...}.')],
            json_schema=schema, max_tokens=64,
            sampling=SamplingParams(temperature=1.0, seed=seed))
        text = collect(engine.generate(req)).text
        value = text.split('"poem"', 1)[1].split('"', 1)[1]  # from inside the string on
        if '"' in value:
            value = value[:value.index('"')]
        assert not any(ord(c) < 0x20 for c in value), repr(value)
        if text.rstrip().endswith("}"):  # complete (not cut by max_tokens): strict parse
            assert isinstance(json.loads(text)["poem"], str)


def test_bad_grammar_is_a_value_error(engine):
    with pytest.raises(ValueError, match="grammar"):
        engine.generate(GenerateRequest(prompt="x", grammar="root ::= ("))


def test_load_errors_keep_llama_cpp_reason_after_its_high_level_api_was_imported(
        tmp_path, default_model_path):
    import subprocess
    import sys

    truncated = tmp_path / "truncated.gguf"
    with open(default_model_path, "rb") as src:
        truncated.write_bytes(src.read(30_000_000))
    code = ("import llama_cpp.llama\n"  # installs llama-cpp-python's own log callback
            "from slmkit.runtime import load_engine\n"
            f"load_engine({str(truncated)!r})\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 1 and "not within the file bounds" in out.stderr
