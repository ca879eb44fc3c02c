"""Continuous batching in the llama.cpp engine, on the real default model."""

import threading

import pytest

from slmkit.core.errors import QueueFullError
from slmkit.core.types import GREEDY, ChatMessage, GenerateRequest, collect

pytestmark = pytest.mark.integration

SYSTEM = ("Answer briefly and factually. You are a careful assistant for a company's internal "
          "help desk; keep answers short, avoid speculation and say when you do not know.")


def france(**kw):
    return GenerateRequest(messages=[ChatMessage("system", SYSTEM),
                                     ChatMessage("user", "What is the capital of France?")],
                           sampling=GREEDY, **kw)


@pytest.fixture(scope="module")
def batched(default_model_path):
    from slmkit.runtime import load_engine

    eng = load_engine(default_model_path, n_ctx=1024, n_parallel=4, max_queue=8, n_threads=2)
    yield eng
    eng.close()


def run_concurrently(engine, requests):
    results = [None] * len(requests)

    def work(i):
        results[i] = collect(engine.generate(requests[i]))
    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(requests))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return results


def test_concurrent_requests_share_decode_steps(batched):
    before = batched._scheduler.steps
    prompts = ["Once upon a time", "The history of Rome", "My favourite recipe is",
               "In the year 2050"]
    results = run_concurrently(batched, [GenerateRequest(prompt=p, sampling=GREEDY,
                                                         max_tokens=32) for p in prompts])
    steps = batched._scheduler.steps - before
    assert all(r.usage.completion_tokens == 32 for r in results)
    # 4 × 32 tokens sequentially would need ≥ 128 decode steps
    assert steps < 90, steps
    assert batched.stats() == {"slots": 4, "busy": 0, "waiting": 0}


def test_batched_answers_are_right(batched):
    results = run_concurrently(batched, [france(max_tokens=32) for _ in range(4)])
    assert all("Paris" in r.text for r in results)


def test_shared_system_prompt_is_reused_across_slots(batched):
    first = batched.generate(france(max_tokens=64))
    next(first)  # the first request is running and holds the system prompt in its slot
    other = GenerateRequest(messages=[ChatMessage("system", SYSTEM),
                                      ChatMessage("user", "Name a colour.")],
                            sampling=GREEDY, max_tokens=8)
    done = collect(batched.generate(other))
    first.close()
    system_tokens = len(batched.tokenize(batched.render_chat(
        [ChatMessage("system", SYSTEM)], add_generation_prompt=False)))
    assert done.usage.cached_tokens >= system_tokens - 2


def test_full_queue_is_refused_at_once(default_model_path):
    from slmkit.runtime import load_engine

    with load_engine(default_model_path, n_ctx=512, n_parallel=1, max_queue=1) as eng:
        running = eng.generate(GenerateRequest(prompt="Count to a thousand:", max_tokens=200,
                                               sampling=GREEDY))
        next(running)
        waiting = eng.generate(GenerateRequest(prompt="hi", max_tokens=4))
        with pytest.raises(QueueFullError) as info:
            eng.generate(GenerateRequest(prompt="hi", max_tokens=4))
        assert info.value.retry_after > 0 and "queue is full" in str(info.value)
        running.close()  # cancelling frees the slot for the waiting request at once
        assert collect(waiting).finish_reason in ("length", "stop")


def test_cancel_frees_the_slot(default_model_path):
    from slmkit.runtime import load_engine

    with load_engine(default_model_path, n_ctx=512, n_parallel=1) as eng:
        before = eng._scheduler.steps
        stream = eng.generate(GenerateRequest(prompt="Once upon a time", max_tokens=400,
                                              sampling=GREEDY))
        next(stream)
        stream.close()
        done = collect(eng.generate(france(max_tokens=24)))
        assert "Paris" in done.text and eng.stats()["busy"] == 0
        # one slot: had the closed request kept it, the next would have waited for its 400
        # decode steps; freed at the next step, both together need a few dozen
        steps = eng._scheduler.steps - before
        assert steps < 120, steps


def test_timeout_ends_the_request(batched):
    done = collect(batched.generate(GenerateRequest(prompt="Once upon a time", max_tokens=900,
                                                    sampling=GREEDY, timeout=0.3)))
    assert done.finish_reason == "timeout" and 0 < done.usage.completion_tokens < 900


def test_scoring_while_generating(batched):
    stream = batched.generate(GenerateRequest(prompt="Once upon a time", max_tokens=64,
                                              sampling=GREEDY))
    next(stream)
    scored = batched.token_logprobs(batched.tokenize("The capital of France is Paris"))
    assert len(scored) == len(batched.tokenize("The capital of France is Paris")) - 1
    assert collect(stream).usage.completion_tokens == 64


def test_prompts_tokenize_the_same_from_many_threads_while_decoding(batched):
    """Callers' threads tokenize while the scheduler decodes; a shared tokenizer buffer once
    mixed their ids, so identical prompts got different tokens (and wrong answers)."""
    expected = batched.prompt_tokens(france())
    running = batched.generate(GenerateRequest(prompt="Count to a thousand:", max_tokens=200,
                                               sampling=GREEDY))
    next(running)
    seen: list[list[int]] = []

    def work() -> None:
        for _ in range(50):
            seen.append(batched.prompt_tokens(france()))
    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    running.close()
    assert len(seen) == 300 and all(ids == expected for ids in seen)
