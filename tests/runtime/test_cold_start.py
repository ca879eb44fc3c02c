"""Cold start on the real default model: the KV cache of the first chat prompt's head kept
on disk between engines (a second engine evaluates only what is new and answers exactly the
same; no user message is written), and an engine closed for the process exit."""

import os

import pytest

from slmkit.core.errors import EngineClosedError
from slmkit.core.types import GREEDY, ChatMessage, GenerateRequest, collect
from slmkit.runtime import load_engine
from slmkit.models.load import LoadedModel, _command_process, resolve
from slmkit.runtime.llamacpp import model as llama_model, prompt_cache

SYSTEM = ChatMessage("system", "You are a careful assistant. Answer briefly and factually, "
                               "in one sentence, without lists.")


def ask(question: str) -> GenerateRequest:
    return GenerateRequest(messages=[SYSTEM, ChatMessage("user", question)], sampling=GREEDY,
                           max_tokens=12)


@pytest.fixture
def cache_home(tmp_path, monkeypatch):
    monkeypatch.setenv("SLM_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv("SLM_PROMPT_CACHE", raising=False)
    return tmp_path / "prompt-cache"


def answer(path: str, request: GenerateRequest):
    with load_engine(path, n_ctx=1024, n_threads=2) as engine:
        return collect(engine.generate(request))


@pytest.mark.integration
def test_next_engine_reuses_the_saved_prompt_and_answers_the_same(default_model_path,
                                                                  cache_home):
    first = answer(default_model_path, ask("What is the capital of France?"))
    (saved,) = cache_home.glob("*.kv")
    assert first.usage.cached_tokens == 0 and saved.stat().st_mode & 0o077 == 0
    again = answer(default_model_path, ask("What is the capital of France?"))
    assert again.token_ids == first.token_ids
    other = answer(default_model_path, ask("What is the capital of Italy?"))
    # only the head was kept (template and system message), never the user's question
    assert 20 < other.usage.cached_tokens == again.usage.cached_tokens
    assert again.usage.cached_tokens < again.usage.prompt_tokens - 5
    with pytest.MonkeyPatch.context() as mp:  # the same question with no cache at all
        mp.setenv("SLM_PROMPT_CACHE", "0")
        plain = answer(default_model_path, ask("What is the capital of Italy?"))
    assert plain.usage.cached_tokens == 0 and plain.token_ids == other.token_ids


@pytest.mark.integration
def test_a_damaged_file_is_ignored_and_replaced(default_model_path, cache_home):
    answer(default_model_path, ask("Name a colour."))
    (saved,) = cache_home.glob("*.kv")
    saved.write_bytes(saved.read_bytes()[:100])  # cut short
    done = answer(default_model_path, ask("Name a colour."))
    assert done.usage.cached_tokens == 0 and done.text
    assert answer(default_model_path, ask("Name a colour.")).usage.cached_tokens > 0


@pytest.mark.integration
def test_turned_off_it_writes_nothing(default_model_path, cache_home, monkeypatch):
    monkeypatch.setenv("SLM_PROMPT_CACHE", "0")
    answer(default_model_path, ask("Name a colour."))
    assert not cache_home.exists()


def test_the_folder_keeps_the_newest_files(tmp_path):
    for i in range(prompt_cache.MAX_FILES + 3):
        (tmp_path / f"{i:02d}.kv").write_bytes(b"x")
        os.utime(tmp_path / f"{i:02d}.kv", ns=(10**18 + i, 10**18 + i))
    prompt_cache._prune(tmp_path)
    kept = sorted(p.name for p in tmp_path.glob("*.kv"))
    assert len(kept) == prompt_cache.MAX_FILES and "00.kv" not in kept


@pytest.mark.integration
def test_closed_for_exit_the_engine_ends_but_leaves_its_memory(default_model_path):
    engine = load_engine(default_model_path, n_ctx=512, n_threads=2)
    left = len(llama_model._left_to_exit)
    engine.close_for_exit()
    assert len(llama_model._left_to_exit) == left + 1 and engine._model._model is None
    with pytest.raises(EngineClosedError):
        engine.generate(ask("Name a colour."))
    engine.close()  # closing again is a no-op, not a double free


@pytest.mark.integration
def test_a_program_that_goes_on_frees_the_model(default_model_path):
    assert not _command_process()  # pytest is not the `slm` command
    left = len(llama_model._left_to_exit)
    with LoadedModel(load_engine(default_model_path, n_ctx=512, n_threads=2),
                     resolve(default_model_path, pull=False)):
        pass
    assert len(llama_model._left_to_exit) == left


def test_the_head_ends_where_the_first_user_message_begins():
    from slmkit.core.types import ChatMessage as M

    def tokens_of(messages):  # one "token" per word of a toy template
        return " ".join(f"<{m.role}> {m.content}" for m in messages).split() + ["<gen>"]

    chat = [M("system", "be brief"), M("user", "secret question"), M("assistant", "ok")]
    prompt = tokens_of(chat)
    assert prompt[:prompt_cache.head_length(prompt, chat, tokens_of)] == \
        ["<system>", "be", "brief", "<user>"]
    assert prompt_cache.head_length(prompt, [M("system", "x")], tokens_of) == 0  # no user
    other = tokens_of([M("system", "be kind"), M("user", "q")])
    assert prompt_cache.head_length(other, chat, tokens_of) == 0  # not this prompt's head
