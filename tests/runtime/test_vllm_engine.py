"""The vllm engine against a fake of vLLM's API (``helpers/fake_vllm.py``): what it hands
vLLM and what it makes of vLLM's answers. vLLM itself needs an NVIDIA GPU; the engine
on a real GPU is checked by ``benchmarks/gpu_check.sh``. The Engine contract for this
engine runs in ``tests/contract`` (case ``vllm-fake``)."""

from __future__ import annotations

import json
import sys
import threading
import time

import numpy as np
import pytest

from helpers import fake_vllm
from slmkit.core.errors import (
    EngineClosedError,
    InvalidModelFileError,
    UnsupportedOperationError,
)
from slmkit.core.types import (
    GREEDY,
    ChatMessage,
    GenerateRequest,
    SamplingParams,
    ToolCallConstraint,
    collect,
)

pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return fake_vllm.build_model_dir(tmp_path_factory.mktemp("vllm") / "m", n_ctx=512)


def adapter_dir(root, name: str, rank: int):
    folder = root / name
    folder.mkdir()
    (folder / "adapter_config.json").write_text(json.dumps({"r": rank}), encoding="utf-8")
    return folder


@pytest.fixture
def engine(model_dir):
    eng = fake_vllm.open_fake(model_dir, name="tiny", n_ctx=256, n_threads=1)
    yield eng
    eng.close()


def ask(text: str = "Tell me about rivers.", **kw) -> GenerateRequest:
    kw.setdefault("sampling", GREEDY)
    kw.setdefault("max_tokens", 12)
    return GenerateRequest(messages=[ChatMessage("user", text)], **kw)


def last_request(engine):
    return engine.llm.requests[-1]  # (request id, prompt ids, SamplingParams, LoRARequest)


def test_streams_deltas_as_chunks_with_one_final_chunk(engine):
    chunks = list(engine.generate(ask(max_tokens=6)))
    assert len(chunks) >= 3 and chunks[-1].finish_reason == "length"
    assert all(c.finish_reason is None and c.usage is None for c in chunks[:-1])
    usage = chunks[-1].usage
    _, prompt, params, lora = last_request(engine)
    assert usage.completion_tokens == 6 == sum(len(c.token_ids) for c in chunks)
    assert usage.prompt_tokens == len(prompt) == len(engine.prompt_tokens(ask()))
    assert params.output_kind is fake_vllm.RequestOutputKind.DELTA and lora is None
    assert params.max_tokens == 6 and params.temperature == 0.0 and params.top_k == 40
    assert params.stop_token_ids == sorted(engine.text.eog) and params.stop is None


def test_sampling_settings_map_onto_vllms_names(engine):
    sampling = SamplingParams(temperature=0.7, top_k=0, top_p=0.9, min_p=0.1, seed=7,
                              repeat_penalty=1.1, presence_penalty=0.5)
    collect(engine.generate(ask(max_tokens=3, sampling=sampling)))
    p = last_request(engine)[2]
    assert (p.temperature, p.top_k, p.top_p, p.min_p, p.seed) == (0.7, -1, 0.9, 0.1, 7)
    assert (p.repetition_penalty, p.presence_penalty) == (1.1, 0.5)


def test_stop_strings_go_to_vllm_and_never_reach_the_text(engine):
    whole = collect(engine.generate(ask(max_tokens=16))).text
    stop = whole[5:8]
    cut = collect(engine.generate(ask(max_tokens=16, stop=[stop])))
    assert last_request(engine)[2].stop == [stop]
    assert cut.finish_reason == "stop" and cut.text == whole[:whole.index(stop)]


def test_max_tokens_is_fitted_to_the_context_and_zero_generates_nothing(engine):
    collect(engine.generate(ask(max_tokens=None)))
    prompt = last_request(engine)[1]
    assert last_request(engine)[2].max_tokens == 256 - len(prompt)
    n_requests = len(engine.llm.requests)
    nothing = collect(engine.generate(ask(max_tokens=0)))
    assert (nothing.text, nothing.finish_reason, nothing.usage.completion_tokens) == ("",
                                                                                       "length", 0)
    assert len(engine.llm.requests) == n_requests  # vLLM's max_tokens must be >= 1


def test_logprobs_are_vllms_numbers_with_the_top_alternatives_sorted(engine):
    out = collect(engine.generate(ask(max_tokens=5, logprobs=3)))
    _, prompt, params, _ = last_request(engine)
    assert params.logprobs == 3 and len(out.logprobs) == 5
    context = list(prompt)
    for lp, token in zip(out.logprobs, out.token_ids, strict=True):
        row = engine.llm.logprobs_after(context, None)
        assert lp.token == token and lp.logprob == pytest.approx(row[token])
        assert [a.token for a in lp.top] == list(np.argsort(-row)[:3])
        assert lp.text == engine.token_text(token)
        context.append(token)


def test_token_logprobs_use_vllms_prompt_logprobs(engine):
    ids = engine.tokenize("Paris is the capital of France.")
    scored = engine.token_logprobs(ids, top=2)
    params = last_request(engine)[2]
    assert params.prompt_logprobs == 2 and params.max_tokens == 1
    assert [s.token for s in scored] == ids[1:]
    for i, s in enumerate(scored, start=1):
        row = engine.llm.logprobs_after(ids[:i], None)
        assert s.logprob == pytest.approx(row[ids[i]])
        assert [a.token for a in s.top] == list(np.argsort(-row)[:2])


SCHEMA = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}


def test_json_schema_and_grammar_become_vllms_structured_outputs(engine):
    out = collect(engine.generate(ask(max_tokens=24, json_schema=SCHEMA)))
    assert last_request(engine)[2].structured_outputs.json == SCHEMA
    assert json.loads(out.text) == {"ok": True} and out.finish_reason == "stop"
    collect(engine.generate(ask(max_tokens=24, json_schema={})))
    assert last_request(engine)[2].structured_outputs.json == {"type": "object"}
    collect(engine.generate(ask(max_tokens=24, grammar='root ::= "yes" | "no"')))
    assert last_request(engine)[2].structured_outputs.grammar == 'root ::= "yes" | "no"'
    tools = ToolCallConstraint(call_schema={"type": "object"}, names=("f",))
    with pytest.raises(UnsupportedOperationError, match="tool calls"):
        engine.generate(ask(tool_calls=tools))


def test_lora_adapters_are_chosen_per_request(model_dir, tmp_path):
    sql = adapter_dir(tmp_path, "sql", 16)
    gguf = adapter_dir(tmp_path, "style", 8) / "adapter.gguf"  # a `slm finetune` output
    gguf.write_bytes(b"GGUF")
    eng = fake_vllm.open_fake(model_dir, n_ctx=256, adapters={"sql": str(sql),
                                                               "style": str(gguf)})
    try:
        args = eng.llm.args
        assert (args.enable_lora, args.max_loras, args.max_lora_rank) == (True, 2, 16)
        assert eng.info.capabilities.adapters
        base = collect(eng.generate(ask()))
        assert last_request(eng)[3] is None
        tuned = collect(eng.generate(ask(adapter="sql")))
        lora = last_request(eng)[3]
        assert (lora.lora_name, lora.lora_int_id, lora.lora_path) == ("sql", 1, str(sql))
        assert tuned.text != base.text  # the fake's distribution depends on the adapter
        view = eng.with_adapter("style")
        assert view.info.name.endswith("+style")
        collect(view.generate(ask()))
        assert last_request(eng)[3].lora_path == str(gguf.parent)
        view.token_logprobs(eng.tokenize("a river"))
        assert last_request(eng)[3].lora_name == "style"
        view.close()
        assert collect(eng.generate(ask(max_tokens=2))).finish_reason  # base still open
        with pytest.raises(Exception, match="no adapter 'nope'"):
            eng.generate(ask(adapter="nope"))
    finally:
        eng.close()


def test_an_adapter_without_a_peft_config_is_refused(model_dir, tmp_path):
    (tmp_path / "lone.gguf").write_bytes(b"GGUF")
    with pytest.raises(InvalidModelFileError, match="PEFT"):
        fake_vllm.open_fake(model_dir, adapters={"x": str(tmp_path / "lone.gguf")})


def test_closing_a_stream_aborts_the_request_in_vllm(engine, monkeypatch):
    monkeypatch.setattr(fake_vllm.AsyncLLM, "step_seconds", 0.01)
    stream = engine.generate(ask(max_tokens=200))
    assert next(stream).finish_reason is None
    stream.close()
    assert list(stream) == []
    wait_for_abort(engine, stream.request_id)
    assert stream.request_id not in engine.llm.finished  # it never ran to its end


def wait_for_abort(engine, request_id: str) -> None:
    """The abort reaches vLLM's loop asynchronously: close() does not wait for it."""
    deadline = time.monotonic() + 10  # a hang guard
    while request_id not in engine.llm.aborted:
        assert time.monotonic() < deadline, "the fake never saw the abort"
        time.sleep(0.01)


def test_a_stream_closed_from_another_thread_stops_the_reader(engine, monkeypatch):
    monkeypatch.setattr(fake_vllm.AsyncLLM, "step_seconds", 0.02)
    stream = engine.generate(ask(max_tokens=200))
    next(stream)
    threading.Timer(0.1, stream.close).start()
    rest = list(stream)  # ends once closed, with no final chunk
    assert all(c.finish_reason is None for c in rest) and len(rest) < 199


def test_a_request_timeout_aborts_and_finishes_with_timeout(engine, monkeypatch):
    monkeypatch.setattr(fake_vllm.AsyncLLM, "step_seconds", 0.02)
    out = collect(engine.generate(ask(max_tokens=200, timeout=0.2)))
    assert out.finish_reason == "timeout" and out.usage.completion_tokens < 200
    wait_for_abort(engine, last_request(engine)[0])


def test_close_shuts_vllm_down_and_is_final(model_dir):
    eng = fake_vllm.open_fake(model_dir, n_ctx=64)
    llm = eng.llm
    eng.close()
    eng.close()
    assert llm.shut_down and eng.loop.loop.is_closed()
    with pytest.raises(EngineClosedError):
        eng.generate(ask())


def test_capabilities_say_what_differs_from_llamacpp(model_dir):
    eng = fake_vllm.open_fake(model_dir, n_ctx=100000, max_sequences=32)
    try:
        caps = eng.info.capabilities
        assert (caps.logprobs, caps.grammar, caps.logits, caps.embed, caps.adapters) == (
            True, True, False, False, False)
        assert caps.max_sequences == 32 == eng.llm.args.max_num_seqs
        assert eng.info.n_ctx == 512 == eng.llm.args.max_model_len  # capped at the trained
        with pytest.raises(UnsupportedOperationError, match="logits"):
            eng.logits([1, 2, 3])
        with pytest.raises(UnsupportedOperationError, match="embed"):
            eng.embed(["a river"])
        with pytest.raises(UnsupportedOperationError, match="adapters"):
            eng.with_adapter("x")
    finally:
        eng.close()


def test_engine_arguments_pass_through_to_vllm(model_dir):
    eng = fake_vllm.open_fake(model_dir, n_ctx=64, gpu_memory_utilization=0.5,
                              n_parallel=4, max_queue=8)  # llama.cpp's options: ignored
    try:
        args = eng.llm.args
        assert args.model == args.tokenizer == str(model_dir)
        assert args.gpu_memory_utilization == 0.5 and args.disable_log_stats
    finally:
        eng.close()


def test_without_vllm_the_error_says_how_to_install_it(model_dir, monkeypatch):
    from slmkit.runtime import load_engine
    from slmkit.runtime.vllm import VllmMissingError

    for name in ("vllm", "vllm.sampling_params", "vllm.engine", "vllm.engine.arg_utils"):
        monkeypatch.setitem(sys.modules, name, None)  # import fails, as without vLLM
    with pytest.raises(VllmMissingError) as err:
        load_engine(str(model_dir), backend="vllm")
    text = str(err.value)
    assert "vLLM is not installed" in text and "NVIDIA GPU" in text
    assert "pip install 'slmkit[vllm]'" in text


def test_a_gguf_file_is_refused_with_the_conversion_command(tmp_path):
    (tmp_path / "m.gguf").write_bytes(b"GGUF")
    with pytest.raises(InvalidModelFileError, match="slm convert"):
        fake_vllm.open_fake(tmp_path / "m.gguf")


def test_slmkit_load_picks_vllm_by_suffix_without_a_ram_check(model_dir, tmp_path,
                                                              monkeypatch):
    from slmkit.models.load import load, split_engine

    monkeypatch.setenv("SLM_HOME", str(tmp_path / "home"))
    assert split_engine(f"{model_dir}@vllm") == (str(model_dir), "vllm")
    with fake_vllm.installed():
        eng = load(f"{model_dir}@vllm", n_ctx=64, n_threads=1, pull=False)
    try:
        assert type(eng).__name__ == "VllmEngine" and eng.info.n_ctx == 64
    finally:
        eng.close()


def test_a_vllm_server_is_an_upstream_with_adapters_as_model_names():
    from helpers.fake_engine import FakeLocal
    from helpers.fake_server import FakeLoader, LiveServer, fake_app
    from slmkit.runtime import load_engine

    loader = FakeLoader({"qwen": lambda: FakeLocal(name="qwen", answer="base"),
                         "sql": lambda: FakeLocal(name="sql", answer="SELECT 1")})
    app, _ = fake_app(loader)
    with LiveServer(app) as srv:
        eng = load_engine(srv.url, backend="vllm", model="qwen", adapters=["sql"], retries=0)
        try:
            assert eng.info.architecture == "vllm-server" and eng.info.capabilities.adapters
            assert collect(eng.generate(ask(max_tokens=4))).text.startswith("base")
            assert collect(eng.generate(ask(adapter="sql"))).text.startswith("SELECT")
            view = eng.with_adapter("sql")
            assert collect(view.generate(ask())).text.startswith("SELECT")
            view.close()
            with pytest.raises(Exception, match="no adapter 'nope'"):
                eng.generate(ask(adapter="nope"))
        finally:
            eng.close()
