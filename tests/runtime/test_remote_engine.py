"""The remote engine against a real local OpenAI-compatible server that records requests
and fails on purpose: streaming, keys, retries (only the retryable ones), timeouts, the
context check."""

from __future__ import annotations

import threading
import time

import pytest

from helpers.upstream import Fault, Upstream, closed_port_url
from slmkit.core.errors import ContextOverflowError, EngineClosedError
from slmkit.core.types import GREEDY, ChatMessage, GenerateRequest, collect
from slmkit.runtime import load_engine
from slmkit.runtime.remote import RemoteEngine, RetryPolicy, UpstreamError
from slmkit.runtime.remote.transport import retry_after_seconds

FAST = RetryPolicy(max_retries=2, backoff=0.01, max_backoff=0.05, max_retry_after=1.0)


@pytest.fixture(scope="module")
def upstream():
    server = Upstream()
    yield server
    server.stop()


@pytest.fixture
def up(upstream):
    upstream.reset()
    return upstream


@pytest.fixture
def remote(up):
    eng = RemoteEngine(up.url, model="big-model", api_key="sk-test-SECRET", retry=FAST,
                       timeout=5.0)
    yield eng
    eng.close()


def chat(text: str, **kw) -> GenerateRequest:
    return GenerateRequest(messages=[ChatMessage("user", text)], sampling=GREEDY, **kw)


def test_streams_chat_into_chunks_with_one_final_chunk(remote, up):
    chunks = list(remote.generate(chat("hello there", max_tokens=50, logprobs=1)))
    assert "".join(c.text for c in chunks) == "You said: hello there"
    finals = [c for c in chunks if c.finish_reason]
    assert finals == [chunks[-1]] and chunks[-1].finish_reason == "stop"
    assert chunks[-1].usage.completion_tokens == 6 and chunks[-1].usage.prompt_tokens > 0
    assert chunks[0].logprobs[0].logprob == -0.25
    (req,) = up.recording.requests
    body = req["body"]
    assert req["path"] == "/v1/chat/completions" and body["stream"] is True
    assert body["messages"] == [{"role": "user", "content": "hello there"}]
    assert body["max_tokens"] == 50 and body["temperature"] == 0.0 and body["top_logprobs"] == 1
    assert req["headers"]["authorization"] == "Bearer sk-test-SECRET"


def test_prompt_uses_the_completions_endpoint_and_length_finish(remote, up):
    out = collect(remote.generate(GenerateRequest(prompt="abc", max_tokens=2, sampling=GREEDY)))
    assert out.text == "Completion of: abc"[:8] and out.finish_reason == "length"
    assert up.recording.requests[0]["path"] == "/v1/completions"


def test_stop_strings_are_cut_locally_too(remote):
    out = collect(remote.generate(chat("the stop word", stop=["stop"])))
    assert out.text == "You said: the " and out.finish_reason == "stop"


def test_key_from_env_or_file_and_never_shown(up, monkeypatch, tmp_path):
    monkeypatch.setenv("SLM_REMOTE_API_KEY", "sk-from-env")
    with RemoteEngine(up.url, model="m") as eng:
        collect(eng.generate(chat("x")))
        assert "sk-from" not in repr(eng) and "sk-from" not in repr(vars(eng).get("info"))
    monkeypatch.delenv("SLM_REMOTE_API_KEY")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    key_file = tmp_path / "key"
    key_file.write_text("sk-from-file\n")
    with RemoteEngine(up.url, model="m", api_key_file=str(key_file)) as eng:
        collect(eng.generate(chat("x")))
    auth = [r["headers"]["authorization"] for r in up.recording.requests]
    assert auth == ["Bearer sk-from-env", "Bearer sk-from-file"]


def test_retries_retryable_statuses_honouring_retry_after(remote, up):
    up.inject(Fault(status=503, retry_after="0.2"), Fault(status=429))
    t0 = time.perf_counter()
    assert collect(remote.generate(chat("retry me"))).text == "You said: retry me"
    assert time.perf_counter() - t0 >= 0.2 and len(up.recording.requests) == 3


def test_gives_up_after_max_retries_with_a_clear_error(remote, up):
    up.inject(*[Fault(status=502)] * 3)
    with pytest.raises(UpstreamError, match="HTTP 502") as err:
        remote.generate(chat("x"))
    assert err.value.status == 502 and len(up.recording.requests) == 3
    assert "sk-test-SECRET" not in str(err.value)


def test_does_not_retry_other_errors_or_long_retry_after(remote, up):
    up.inject(Fault(status=500, message="model exploded"))
    with pytest.raises(UpstreamError, match="HTTP 500: model exploded"):
        remote.generate(chat("x"))
    up.inject(Fault(status=401))
    with pytest.raises(UpstreamError, match="HTTP 401") as err:
        remote.generate(chat("x"))
    assert "API key" in err.value.hint
    up.inject(Fault(status=503, retry_after="120"))
    with pytest.raises(UpstreamError, match="HTTP 503") as err:
        remote.generate(chat("x"))
    assert err.value.retry_after == 120 and len(up.recording.requests) == 3


def test_refused_connection_is_retried_then_fails_with_a_clear_error():
    with RemoteEngine(closed_port_url(), model="m", retry=FAST, connect_timeout=1) as eng:
        t0 = time.perf_counter()
        with pytest.raises(UpstreamError, match="cannot reach the upstream") as err:
            eng.generate(chat("x"))
        assert err.value.retryable and err.value.status is None
        assert time.perf_counter() - t0 < 60  # a hang guard: three refused connects


def test_slow_upstream_times_out_without_retry(up):
    # the upstream would answer after 3 s: an error at all means the 0.3 s timeout fired
    up.inject(Fault(delay=3.0))
    with RemoteEngine(up.url, model="m", timeout=0.3, retry=FAST) as eng:
        with pytest.raises(UpstreamError, match="did not answer within 0.3 s"):
            eng.generate(chat("x"))
        assert len(up.recording.requests) == 1


def test_stall_or_error_mid_stream_raises_from_the_iterator(up):
    up.inject(Fault(stall_after=2, stall=3.0), Fault(error_after=1))
    with RemoteEngine(up.url, model="m", timeout=0.3, retry=FAST) as eng:
        stream = eng.generate(chat("a long enough answer"))
        assert next(stream).text == "You "
        with pytest.raises(UpstreamError, match="mid-answer"):
            list(stream)
        with pytest.raises(UpstreamError, match="injected mid-stream error"):
            list(eng.generate(chat("x")))


def test_request_timeout_ends_the_stream_with_timeout(up):
    up.inject(Fault(stall_after=1, stall=0.3))
    with RemoteEngine(up.url, model="m", timeout=5) as eng:
        out = collect(eng.generate(chat("abcdefghijkl", timeout=0.2)))
    assert out.finish_reason == "timeout" and out.text.startswith("You ")


def test_context_window_is_checked_before_sending(up):
    with RemoteEngine(up.url, model="m", n_ctx=100) as eng, \
            pytest.raises(ContextOverflowError, match="context window is 100"):
        eng.generate(chat("word " * 200))
    exact = RemoteEngine(up.url, model="m", n_ctx=50, tokenizer=lambda t: t.split())
    with exact, pytest.raises(ContextOverflowError) as err:
        exact.generate(chat("w " * 30, max_tokens=30))
    assert (err.value.n_prompt, err.value.max_tokens) == (34, 30)
    assert up.recording.requests == []


def test_upstream_context_error_becomes_context_overflow(remote, up):
    up.inject(Fault(status=400, message="This model's maximum context length is 8192 tokens. "
                                        "However, you requested 9000 tokens."))
    with pytest.raises(ContextOverflowError) as err:
        remote.generate(chat("x"))
    assert (err.value.n_prompt, err.value.n_ctx) == (9000, 8192)


def test_close_early_and_close_engine(up):
    eng = load_engine(up.url, backend="remote", model="m", n_threads=2, retries=0)
    stream = eng.generate(chat("a b c d e f g h"))
    next(stream)
    stream.close()
    assert list(stream) == []
    eng.close()
    eng.close()
    with pytest.raises(EngineClosedError):
        eng.generate(chat("x"))


def test_concurrent_requests(remote):
    results: dict[int, str] = {}

    def work(i: int) -> None:
        results[i] = collect(remote.generate(chat(f"n{i}"))).text

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert results == {i: f"You said: n{i}" for i in range(6)}


def test_embed_and_unsupported_calls(up):
    with RemoteEngine(up.url, model="m", embed_model="e") as eng:
        assert eng.embed(["ab", "abcd"]) == [[2.0, 1.0], [4.0, 1.0]]
        with pytest.raises(NotImplementedError):
            eng.token_logprobs([1, 2])
        with pytest.raises(NotImplementedError):
            eng.tokenize("x")
        assert "<|im_start|>user" in eng.render_chat([ChatMessage("user", "hi")])


def test_retry_after_parsing():
    assert retry_after_seconds("2.5") == 2.5 and retry_after_seconds(None) is None
    assert 0 <= retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") <= 0.01
    assert retry_after_seconds("soon") is None


def test_close_from_another_thread_ends_a_blocked_read(up):
    # The upstream stalls for 10 minutes and the read timeout is as long: only the close
    # can end the read before the hang guard.
    up.inject(Fault(stall_after=1, stall=600.0))
    with RemoteEngine(up.url, model="m", timeout=600) as eng:
        stream = eng.generate(chat("a long enough answer"))
        assert next(stream).text == "You "
        rest: list = []
        reader = threading.Thread(target=lambda: rest.extend(stream))
        reader.start()
        time.sleep(0.2)  # let the reader block in recv (closing earlier is fine too)
        stream.close()
        reader.join(60)  # a hang guard
        assert not reader.is_alive(), "close() did not end the blocked read"
        assert rest == []  # cancelled: no error, no final chunk


def test_closing_a_finished_stream_leaves_pooled_connections_alone(remote):
    first = remote.generate(chat("one"))
    assert collect(first).text == "You said: one"
    second = remote.generate(chat("two"))  # likely reuses the pooled connection
    first.close()
    assert collect(second).text == "You said: two"
