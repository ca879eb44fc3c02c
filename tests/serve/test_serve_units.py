"""Fast unit tests: registry (LRU, keep-alive, admission) with a stub engine, tool schemas,
API keys, request mapping. The HTTP behaviour is tested against a real server elsewhere."""

from __future__ import annotations

import math
import threading
import time

import pytest

from slmkit.core.engine import Capabilities, ModelInfo
from slmkit.core.errors import ModelNotFoundError, QueueFullError
from slmkit.core.types import ChatMessage, ToolCall
from slmkit.serve import tools
from slmkit.serve.auth import ApiKeys, presented_key
from slmkit.serve.protocol_ollama import keep_alive_seconds
from slmkit.serve.registry import (
    Available,
    LoadResult,
    MemoryBudgetError,
    ModelDefaults,
    ModelSpec,
    Registry,
)
from slmkit.serve.service import sampling, with_system

GB = 1024**3


class StubEngine:
    """Only what the registry touches: info and close (no generation here)."""

    def __init__(self, name: str, slots: int = 1) -> None:
        self.info = ModelInfo(name=name, capabilities=Capabilities(max_sequences=slots))
        self.closed = False

    def close(self) -> None:
        self.closed = True


class StubLoader:
    def __init__(self, sizes: dict[str, int], slots: int = 1) -> None:
        self.sizes, self.slots, self.loads = sizes, slots, []

    def resolve(self, name):
        if name not in self.sizes:
            raise ModelNotFoundError(name)
        return ModelSpec(name, self.sizes[name])

    def load(self, spec):
        time.sleep(0.01)
        self.loads.append(spec.name)
        return LoadResult(StubEngine(spec.name, self.slots))

    def available(self):
        return [Available(name, 0, None, 0.0) for name in self.sizes]


def test_loads_once_and_unloads_least_recently_used_under_budget():
    loader = StubLoader({"a": 2 * GB, "b": 2 * GB, "c": 2 * GB})
    reg = Registry(loader, memory_budget=5 * GB)
    a = reg.acquire("a")
    reg.release(a)
    b = reg.acquire("b")
    reg.release(b)
    reg.release(reg.acquire("a"))  # a is now more recent than b
    c = reg.acquire("c")
    assert [m.name for m in reg.loaded()] == ["c", "a"] and b.engine.closed
    assert loader.loads == ["a", "b", "c"]
    reg.release(c)


def test_busy_and_pinned_models_are_never_evicted():
    reg = Registry(StubLoader({"a": 3 * GB, "b": 3 * GB, "c": 3 * GB}), memory_budget=7 * GB)
    reg.release(reg.acquire("a", pinned=True))
    busy = reg.acquire("b")
    with pytest.raises(MemoryBudgetError) as err:
        reg.acquire("c")
    assert err.value.retry_after
    reg.release(busy)
    reg.release(reg.acquire("c"))
    assert sorted(m.name for m in reg.loaded()) == ["a", "c"]


def test_model_larger_than_budget_is_refused():
    reg = Registry(StubLoader({"big": 9 * GB}), memory_budget=4 * GB)
    with pytest.raises(MemoryBudgetError, match="budget"):
        reg.acquire("big")


def test_keep_alive_expiry_and_overrides():
    reg = Registry(StubLoader({"a": 1, "b": 1}), keep_alive=10)
    a = reg.acquire("a")
    reg.release(a)
    assert reg.reap(now=time.time() + 5) == []
    assert reg.reap(now=time.time() + 11) == ["a"] and a.engine.closed
    b = reg.acquire("b")
    reg.release(b, keep_alive=math.inf)
    assert reg.reap(now=time.time() + 1e6) == []
    b2 = reg.acquire("b")
    reg.release(b2, keep_alive=0)  # Ollama's "unload now"
    assert reg.loaded() == [] and b2.engine.closed


def test_concurrent_first_requests_load_once():
    loader = StubLoader({"a": 1})
    reg = Registry(loader)
    got = []
    threads = [threading.Thread(target=lambda: got.append(reg.acquire("a"))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert loader.loads == ["a"] and len({id(m) for m in got}) == 1 and got[0].active == 8


def test_admission_limit_is_slots_plus_queue():
    reg = Registry(StubLoader({"a": 1}, slots=2), queue=1)
    m = reg.acquire("a")
    for _ in range(3):
        m.admit()
    with pytest.raises(QueueFullError) as err:
        m.admit()
    assert err.value.depth == 1
    m.started()
    m.finished(was_running=True)
    m.admit()


def test_unknown_model_propagates_not_found():
    with pytest.raises(ModelNotFoundError):
        Registry(StubLoader({})).acquire("nope")


# ---- tools ---------------------------------------------------------------------------------
SPEC = tools.ToolSpec("f", "does f", {"type": "object", "properties": {"x": {"type": "string"}},
                                      "required": ["x"]})
OTHER = tools.ToolSpec("g", "", {"type": "object", "properties": {}})


def test_tool_plans():
    assert tools.plan([SPEC], "none") is None and tools.plan([], "auto") is None
    required = tools.plan([SPEC, OTHER], "required")
    schema = required.constraint.call_schema
    assert [a["properties"]["name"]["const"] for a in schema["anyOf"]] == ["f", "g"]
    assert not required.constraint.lazy and required.constraint.names == ("f", "g")
    auto = tools.plan([SPEC], "auto")
    assert auto.allow_text and auto.constraint.lazy and auto.constraint.parallel
    assert not tools.plan([SPEC], "auto", parallel=False).constraint.parallel
    named = tools.plan([SPEC, OTHER], "g")
    assert named.constraint.call_schema["properties"]["name"] == {"const": "g"}
    with pytest.raises(ValueError, match="not among"):
        tools.plan([SPEC], "h")
    assert '"description": "does f"' in required.instructions()
    qwen = required.for_template("{% if tools %}<tool_call>{% endif %}")
    assert qwen.native and qwen.instructions() is None
    assert qwen.definitions()[0]["function"]["name"] == "f"
    assert required.definitions() is None


def test_tool_output_parsing():
    plan = tools.plan([SPEC, OTHER], "auto")
    call = {"name": "f", "arguments": {"x": "1"}}
    assert tools.parse('{"name": "f", "arguments": {"x": "1"}}', plan) == (None, [call])
    assert tools.parse('Sure.\n<tool_call>\n{"name": "f", "arguments": {"x": "1"}}\n'
                       '</tool_call>\n<tool_call>{"name": "g", "arguments": {}}</tool_call>',
                       plan) == ("Sure.", [call, {"name": "g", "arguments": {}}])
    assert tools.parse("hello", plan) == ("hello", [])
    fenced = '```json\n{\n  "name": "f",\n  "arguments": {"x": "1"}\n}\n```'
    assert tools.parse(fenced, plan) == (None, [call])
    cut = '{"name": "f", "argu'
    assert tools.parse(cut, plan) == (cut, []) and tools.attempted(cut)
    looping = '{"name": "f", "arguments": {"x": "1"}}\n' * 3 + cut
    assert tools.parse(looping, plan) == (None, [call])  # cut tail dropped, once each
    unknown = '{"name": "Cat Joke", "arguments": {}}'
    assert tools.parse(unknown, plan) == (unknown, []) and tools.attempted(unknown)
    assert not tools.attempted("A joke: cats.")
    assert tools.attempted('```json\n{"name": "Cat Joke"}\n```')


def test_a_repeated_call_is_recognised_only_once_answered():
    made = ChatMessage("assistant", "", tool_calls=(ToolCall("f", {"x": "1"}, "c1"),))
    result = ChatMessage("tool", "42", tool_call_id="c1")
    again = [{"name": "f", "arguments": {"x": "1"}}]
    assert tools.repeats(again, [ChatMessage("user", "q"), made, result])
    assert not tools.repeats(again, [ChatMessage("user", "q"), made])  # no result yet
    assert not tools.repeats([{"name": "f", "arguments": {"x": "2"}}], [made, result])
    assert not tools.repeats([*again, {"name": "g", "arguments": {}}], [made, result])


def test_the_splitter_holds_back_what_may_become_a_call():
    split = tools.Splitter(tools.plan([SPEC], "auto"))
    shown = [split.push(p) for p in ["Hi", " there.\n", "<tool", "_call>", "{}"]]
    assert shown == ["Hi", " there.\n", "", "", ""]
    split = tools.Splitter(tools.plan([SPEC], "auto"))
    shown = [split.push(p) for p in ['{"na', 'me": "f"', ', "arguments": {}}']]
    assert shown == ["", "", ""]
    split = tools.Splitter(tools.plan([SPEC], "auto"))
    assert [split.push(p) for p in ["{", "x}"]] == ["", "{x}"]  # not a call after all
    split = tools.Splitter(tools.plan([SPEC], "auto"))
    assert [split.push(p) for p in ['{"name": "Cat', ' Joke"}']] == ["", ""]  # no such tool
    split = tools.Splitter(tools.plan([SPEC], "auto"))
    assert [split.push(p) for p in ["Ok.\n```", "json\n", '{"name": "f"']] == ["Ok.\n", "", ""]


def test_quantization_names_match_the_gguf_file_type_names():
    from slmkit.runtime.llamacpp.model import ftype_name

    assert ftype_name("qwen2 1B Q4_K - Medium") == "Q4_K_M"  # was "Medium" in /api/show
    assert ftype_name("llama ?B Q4_1") == "Q4_1"
    assert ftype_name("llama 8B Q3_K - Small (guessed)") == "Q3_K_S"
    assert ftype_name("llama 1B IQ2_XXS - 2.0625 bpw") == "IQ2_XXS"


def test_embedding_dimensions_are_cut_and_renormalized():
    from slmkit.serve.service import shorten

    (v,) = shorten([[3.0, 4.0, 12.0]], 2, "m")
    assert v == pytest.approx([0.6, 0.8])
    with pytest.raises(ValueError, match="at most 3"):
        shorten([[3.0, 4.0, 12.0]], 4, "m")


def test_an_unknown_model_suggests_served_models_only():
    reg = Registry(StubLoader({"qwen2.5-coder-0.5b-instruct": 1, "smollm2-135m": 1}))
    with pytest.raises(ModelNotFoundError) as err:
        reg.acquire("gpt-4o")
    assert set(err.value.suggestions) == {"qwen2.5-coder-0.5b-instruct", "smollm2-135m"}
    with pytest.raises(ModelNotFoundError) as err:
        reg.acquire("smollm2-135")
    assert err.value.suggestions == ["smollm2-135m"]


def test_tool_grammar_compiles_and_triggers_are_regexes():
    import re

    from slmkit.runtime.llamacpp.grammar import tool_call_triggers, tool_calls_gbnf

    plan = tools.plan([SPEC, OTHER], "auto")
    gbnf = tool_calls_gbnf(plan.constraint)
    assert gbnf.startswith("root ::= tool-block") and "tool-call ::=" in gbnf
    wrapped, bare = (re.compile(p) for p in tool_call_triggers(plan.constraint))
    # the replay (group start to the end) must fit the grammar: whitespace as models write it
    m = bare.fullmatch('Here:\n```json\n{\n  "name": "g",\n  "argu')
    assert m and m.group(1) == '{\n  "name": "g"'
    assert not bare.fullmatch('{"name": "Cat Joke"')
    assert not bare.fullmatch('{\n\n"name": "g"')  # the grammar's whitespace would refuse it
    assert wrapped.fullmatch("ok <tool_call>\n{").start(1) == 3


# ---- auth, mapping -------------------------------------------------------------------------
def test_api_keys():
    keys = ApiKeys(["alpha", " beta "])
    assert len(keys) == 2 and keys.check("beta") and keys.check("alpha")
    assert not keys.check("gamma") and not keys.check(None) and not keys.check("")
    assert not ApiKeys([])
    assert presented_key([(b"authorization", b"Bearer alpha")]) == "alpha"
    assert presented_key([(b"x-api-key", b"beta")]) == "beta"
    assert presented_key([(b"authorization", b"Basic xyz")]) is None


def test_keep_alive_parsing():
    assert keep_alive_seconds(None) is None and keep_alive_seconds(0) == 0
    assert keep_alive_seconds("5m") == 300 and keep_alive_seconds("1h") == 3600
    assert keep_alive_seconds(-1) == math.inf and keep_alive_seconds("30s") == 30
    with pytest.raises(ValueError):
        keep_alive_seconds("soon")


def test_model_defaults_and_precedence():
    d = ModelDefaults.from_prompt_defaults({"system": "Be brief.", "temperature": 0.2,
                                            "top_p": 0.9, "unknown": 1})
    assert d.system == "Be brief." and dict(d.sampling) == {"temperature": 0.2, "top_p": 0.9}
    s = sampling(d, 5, temperature=0.7, top_p=None)
    assert (s.temperature, s.top_p, s.seed) == (0.7, 0.9, 5)
    user = [ChatMessage("user", "hi")]
    assert [m.role for m in with_system(user, d)] == ["system", "user"]
    own = [ChatMessage("system", "Mine."), *user]
    assert with_system(own, d)[0].content == "Mine."
    assert with_system(own, d, "Tools.")[0].content == "Mine.\n\nTools."
    assert with_system(user, ModelDefaults()) == user


# ---- cli wiring (no model) -------------------------------------------------------------------
def test_exposure_rules(tmp_path, monkeypatch):
    from slmkit.assemble import ServerConfig
    from slmkit.serve.auth import check_exposure, is_loopback

    assert is_loopback("127.0.0.1") and is_loopback("::1")
    assert is_loopback("localhost") and not is_loopback("0.0.0.0")
    check_exposure("127.0.0.1", [])
    check_exposure("0.0.0.0", ["k" * 16])  # shorter keys: test_security_keys.py
    with pytest.raises(ValueError, match="--api-key"):
        check_exposure("192.168.1.5", [])
    keyfile = tmp_path / "keys"
    keyfile.write_text("# team keys\nalpha\n\nbeta\n")
    monkeypatch.setenv("SLM_API_KEY", "gamma")
    config = ServerConfig(api_key=["delta"], api_key_file=str(keyfile))
    assert config.keys() == ["delta", "alpha", "beta", "gamma"]


def test_banner_has_curl_and_python():
    from slmkit.cli.serve import banner

    text = banner("127.0.0.1", 8123, "m", keyed=True)
    assert "curl http://127.0.0.1:8123/v1/chat/completions" in text
    assert 'base_url="http://127.0.0.1:8123/v1"' in text and "Bearer $SLM_API_KEY" in text
