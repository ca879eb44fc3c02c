"""Prompt-lookup speculative decoding: the n-gram drafter, the auto-off policy, and on the
real default model: the same tokens as plain decoding (greedy and seeded sampling), KV
rollback of rejected drafts under two concurrent streams."""

import threading

import pytest

from slmkit.core.types import GREEDY, ChatMessage, GenerateRequest, SamplingParams, collect
from slmkit.runtime.llamacpp.speculate import (
    K_START, PROBE, NgramIndex, Speculator, check_mode)

DOC = ("The city council met on Tuesday to discuss the new bridge over the river. The bridge "
       "will cost 12 million dollars and will be finished in 2027. Council member Ana Lopez "
       "said the bridge will reduce traffic in the old town by half.")
PASSAGES = ("[1] The warehouse robot fleet is serviced every 400 operating hours; batteries are "
            "replaced every 2 years.\n[2] Error E42 means the lidar is dirty: clean the lens "
            "with a dry cloth and restart the robot.\n")


# ---- the drafter and the policy (no model) ------------------------------------------------
def test_lookup_proposes_what_followed_the_latest_longest_match():
    idx = NgramIndex([1, 2, 3, 9, 9, 5, 2, 3, 4, 7, 8, 1, 2, 3])
    # suffix (1, 2, 3) last occurred at the start, followed by 9 9 5 …
    assert idx.lookup(3) == [9, 9, 5]
    idx.push(4)  # suffix (2, 3, 4) occurred once: followed by 7 8
    assert idx.lookup(5) == [7, 8, 1, 2, 3]


def test_lookup_needs_two_tokens_of_context_and_never_matches_itself():
    assert NgramIndex([5, 6, 7, 8]).lookup(4) == []  # no repeated bigram
    assert NgramIndex([5, 6, 7, 5]).lookup(4) == []  # a unigram match is not enough
    idx = NgramIndex([5, 6, 5, 6])
    assert idx.lookup(4) == [5, 6]  # (5, 6) earlier at 0 → continues with 5, 6


def _past_probe(spec, seconds: float | None = None) -> None:
    """The plain first tokens of auto mode (1, 2, 1, 2 …), each timed if ``seconds``."""
    assert spec.draft(8) == []  # plain while probing
    for i in range(PROBE):
        if seconds is not None:
            spec.timed(seconds, 1, False)
        spec.generated(1 + i % 2)


def test_auto_mode_pauses_drafting_when_drafts_keep_failing():
    spec = Speculator([1, 2, 1, 2, 1, 2], "auto")
    _past_probe(spec)
    assert spec.draft(8)
    while not spec.paused:
        spec.verified(len(spec.draft(8)), 0)
        assert spec.drafted < 100, "auto mode never stopped drafting"
    assert spec.draft(8) == []
    for _ in range(200):  # the pause ends; drafting is tried again
        spec.generated(1)
    assert not spec.paused and spec.draft(8)


def test_on_mode_never_pauses_and_off_mode_never_drafts():
    on = Speculator([1, 2, 1, 2], "on")
    for _ in range(50):
        on.verified(2, 0)
    assert not on.paused and on.draft(4)
    assert Speculator([1, 2, 1, 2], "off").draft(4) == []


def test_draft_length_grows_while_accepted_and_shrinks_on_rejection():
    spec = Speculator([], "on")
    spec.verified(K_START, K_START)
    assert spec.k == 2 * K_START
    spec.verified(spec.k, 1)
    assert spec.k == 2


def _drafting_steps(spec, seconds_per_step: float, n: int = 12) -> None:
    """Steps whose drafts are all accepted, each taking ``seconds_per_step``."""
    for _ in range(n):
        k = len(spec.draft(8))
        if not k:
            return
        spec.timed(seconds_per_step, k + 1, True)
        spec.verified(k, k)


def test_auto_mode_pauses_when_drafting_steps_are_slower_per_token():
    spec = Speculator([1, 2] * 50, "auto")
    _past_probe(spec, 0.010)  # plain steps: 10 ms a token
    _drafting_steps(spec, 0.5)  # every draft accepted, but 0.5 s a step: slower per token
    assert spec.paused and spec.accepted == spec.drafted  # accepted, yet it does not pay
    fast = Speculator([1, 2] * 50, "auto")
    _past_probe(fast, 0.010)
    _drafting_steps(fast, 0.012)  # ~2 ms a token: pays
    assert not fast.paused and fast.draft(8)


def test_without_timings_acceptance_alone_decides():
    spec = Speculator([1, 2] * 50, "auto")
    _past_probe(spec)  # nothing timed (e.g. every step also prefilled another request)
    _drafting_steps(spec, 0.5)
    assert not spec.paused and spec.draft(8)


def test_unknown_mode_names_the_choices():
    with pytest.raises(ValueError, match="auto, on, off"):
        check_mode("sometimes")


# ---- on the real default model ------------------------------------------------------------
def _engine(path, mode, **kw):
    from slmkit.runtime import load_engine

    return load_engine(path, n_ctx=1024, n_threads=1, speculate=mode, **kw)


@pytest.fixture(scope="module")
def plain(default_model_path):
    eng = _engine(default_model_path, "off")
    yield eng
    eng.close()


@pytest.fixture(scope="module")
def spec(default_model_path):
    eng = _engine(default_model_path, "on", n_parallel=2)
    yield eng
    eng.close()


def summarize(**kw):
    return GenerateRequest(messages=[ChatMessage("user", "Repeat this text exactly.\n\n" + DOC)],
                           max_tokens=40, **kw)


def rag(**kw):
    return GenerateRequest(messages=[ChatMessage("user", f"Passages:\n{PASSAGES}\nQuestion: "
                                                          "What does error E42 mean? Quote the "
                                                          "passage.")], max_tokens=32, **kw)


@pytest.mark.integration
@pytest.mark.parametrize("make", [summarize, rag])
def test_greedy_output_is_token_for_token_the_same(plain, spec, make):
    want = collect(plain.generate(make(sampling=GREEDY)))
    got = collect(spec.generate(make(sampling=GREEDY)))
    assert got.token_ids == want.token_ids
    assert got.text == want.text and got.finish_reason == want.finish_reason
    assert got.usage.draft_tokens > 0  # it did speculate
    assert want.usage.draft_tokens == 0


@pytest.mark.integration
def test_copying_prompt_accepts_most_drafts(plain, spec):
    got = collect(spec.generate(summarize(sampling=GREEDY)))
    assert got.usage.accepted_tokens >= got.usage.draft_tokens // 2


class _WrongDrafts:
    """A drafter whose drafts are always wrong: every step rolls back the KV cache."""

    def __init__(self, token: int) -> None:
        self.token, self.tokens = token, []

    def lookup(self, k: int) -> list[int]:
        return [self.token] * k

    def push(self, token: int) -> None:
        self.tokens.append(token)


def _wrong_speculator(engine, mode):
    bad = engine.tokenize(" zebra", add_special=False)[0]

    def make(tokens):
        s = Speculator(tokens, mode)
        s.index = _WrongDrafts(bad)
        return s
    return make


@pytest.mark.integration
def test_seeded_sampling_draws_the_same_tokens_through_rejections(plain, spec, monkeypatch):
    """Every draft rejected: each emitted token is sampled from the first row of a
    multi-row decode by the request's own chain, with the seed's draws in the same order."""
    params = SamplingParams(temperature=0.8, top_p=0.95, seed=1234)
    want = collect(plain.generate(summarize(sampling=params)))
    monkeypatch.setattr(spec, "_speculator", _wrong_speculator(spec, "on"))
    got = collect(spec.generate(summarize(sampling=params)))
    assert got.token_ids == want.token_ids and got.usage.draft_tokens > 0


@pytest.mark.integration
def test_rejected_drafts_are_rolled_back_under_two_concurrent_streams(spec, monkeypatch):
    """Two streams decode in the same batches, every draft is rejected: afterwards each
    slot's KV cache holds exactly its prompt and accepted tokens, no draft cell."""
    monkeypatch.setattr(spec, "_speculator", _wrong_speculator(spec, "on"))
    requests = [summarize(sampling=GREEDY), rag(sampling=GREEDY)]
    got = [None, None]

    def work(i):
        got[i] = collect(spec.generate(requests[i]))
    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert spec._scheduler.steps  # both ran through the scheduler
    model = spec._model
    for slot in spec._scheduler.slots:
        assert model.cached(slot.seq_id) == len(slot.tokens)
    for g, req in zip(got, requests):
        prompt = spec.prompt_tokens(req)
        slot = next(s for s in spec._scheduler.slots if s.tokens[:len(prompt)] == prompt)
        fed = g.token_ids if g.finish_reason == "stop" else g.token_ids[:-1]
        assert slot.tokens == prompt + fed  # a last token sampled at the limit is not fed
        assert g.usage.draft_tokens > 0 and g.usage.accepted_tokens == 0


@pytest.mark.integration
def test_auto_mode_stops_drafting_when_drafts_fail(default_model_path, monkeypatch):
    eng = _engine(default_model_path, "auto")
    try:
        monkeypatch.setattr(eng, "_speculator", _wrong_speculator(eng, "auto"))
        out = collect(eng.generate(summarize(sampling=GREEDY)))
        # 4 + 2 + 2 + … drafted until the window fills, then a pause of 32 tokens
        assert 0 < out.usage.draft_tokens < out.usage.completion_tokens
    finally:
        eng.close()


# ---- a draft model (runtime/llamacpp/draft.py) ----------------------------------------------
@pytest.fixture(scope="module")
def drafted(default_model_path):
    """The default model drafting for itself: every proposal is the target's own greedy
    token, so nearly all are accepted (only batch-row rounding can differ)."""
    eng = _engine(default_model_path, "on", n_parallel=2, draft=default_model_path)
    yield eng
    eng.close()


@pytest.mark.integration
def test_a_draft_model_turns_speculation_on_in_auto_mode(default_model_path):
    eng = _engine(default_model_path, None, draft=default_model_path)
    try:
        assert eng.speculate == "auto"  # the speed check decides when drafting pays
    finally:
        eng.close()


def _diverges_only_at_a_near_tie(want, got) -> None:
    """Greedy tokens equal, or the first difference is between the plain decode's two most
    likely tokens, less than 0.7 nats apart: the bound measured for llama.cpp's CPU
    kernels computing a multi-row batch with other rounding than a one-row decode
    (docs/performance.md). A wrong draft kept, or a wrong cache cell, fails this."""
    if got.token_ids == want.token_ids:
        return
    i = next(i for i, (a, b) in enumerate(zip(want.token_ids, got.token_ids)) if a != b)
    top = sorted(want.logprobs[i].top, key=lambda t: -t.logprob)[:2]
    assert got.token_ids[i] in {t.token for t in top}, f"token {i} is not a near-tie"
    assert top[0].logprob - top[1].logprob < 0.7, f"token {i}: no tie to round across"


@pytest.mark.integration
@pytest.mark.parametrize("make", [summarize, rag])
def test_a_draft_model_leaves_the_targets_tokens_unchanged(plain, drafted, make):
    want = collect(plain.generate(make(sampling=GREEDY, logprobs=2)))
    got = collect(drafted.generate(make(sampling=GREEDY)))
    _diverges_only_at_a_near_tie(want, got)
    assert got.usage.draft_tokens > 0
    assert got.usage.accepted_tokens >= 0.8 * got.usage.draft_tokens
    draft = drafted._draft  # its cache holds exactly what it believes the history is
    for seq_id, tokens in enumerate(draft.cached):
        assert draft.model.cached(seq_id) == len(tokens)


@pytest.mark.integration
def test_a_draft_with_another_vocabulary_is_refused(default_model_path, tmp_path):
    from transformers import LlamaConfig

    from helpers.tiny_arch import build_tiny, tiny_dims
    from slmkit.convert import hf_to_gguf
    from slmkit.core.errors import InvalidModelFileError

    other = hf_to_gguf(build_tiny(tmp_path / "hf", LlamaConfig(**tiny_dims())),
                       tmp_path / "other.gguf")  # a loadable model with a tiny BPE vocabulary
    with pytest.raises(InvalidModelFileError, match="does not share the target's vocabulary"):
        _engine(default_model_path, None, draft=str(other))
