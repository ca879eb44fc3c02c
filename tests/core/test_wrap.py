"""The Engine contract's delegation base: ``EngineWrapper`` forwards every method the
``Engine`` Protocol declares, explicitly, and the wrappers (RAG, routed, adapter view)
build on it instead of ``__getattr__``."""

from __future__ import annotations

import inspect

import pytest

from helpers.fake_engine import FakeLocal
from slmkit.core.engine import Capabilities, ChunkStream, Engine, ModelInfo, require
from slmkit.core.errors import UnsupportedOperationError
from slmkit.core.types import ChatMessage, GenerateRequest, RouteDecision, Usage, collect
from slmkit.core.wrap import EngineWrapper


def contract_methods() -> list[str]:
    """Every public method of the Engine Protocol (read from the class, so a method added
    to the contract shows up here by itself)."""
    return sorted(n for n, v in vars(Engine).items()
                  if not n.startswith("_") and inspect.isfunction(v))


# one call per contract method: name -> (args, kwargs); a new method needs a row here
CALLS = {
    "generate": ((GenerateRequest(prompt="hi"),), {}),
    "tokenize": (("hi",), {"add_special": False}),
    "detokenize": (([1, 2],), {}),
    "prompt_tokens": ((GenerateRequest(prompt="hi"),), {}),
    "token_logprobs": (([1, 2, 3],), {"top": 2}),
    "logits": (([1, 2, 3],), {"first": 1}),
    "embed": ((["a", "b"],), {}),
    "with_adapter": (("tuned",), {"on_close": None}),
    "render_chat": (([ChatMessage("user", "hi")],), {"add_generation_prompt": False,
                                                     "tools": None}),
    "stats": ((), {}),
    "close": ((), {}),
}


class Recorder:
    """An inner engine that records every call and returns a token per method."""

    def __init__(self) -> None:
        self.info = ModelInfo(name="rec", capabilities=Capabilities(adapters=True, logits=True,
                                                                    embed=True))
        self.calls: list[tuple[str, tuple, dict]] = []

    def __getattr__(self, name: str):  # a test double: every method is a recorder
        def method(*args, **kwargs):
            self.calls.append((name, args, kwargs))
            return f"result of {name}"
        return method


def test_the_contract_lists_the_methods_callers_use():
    assert contract_methods() == sorted(CALLS), "add a row to CALLS for the new method"


@pytest.mark.parametrize("name", contract_methods())
def test_wrapper_defines_and_forwards_every_contract_method(name):
    assert name in vars(EngineWrapper), f"EngineWrapper does not forward {name}()"
    inner = Recorder()
    args, kwargs = CALLS[name]
    out = getattr(EngineWrapper(inner), name)(*args, **kwargs)
    assert inner.calls == [(name, args, kwargs)]
    assert out == f"result of {name}" or (name == "close" and out is None)


def test_wrapper_has_no_catch_all_forwarding():
    assert "__getattr__" not in vars(EngineWrapper)
    with pytest.raises(AttributeError):
        EngineWrapper(Recorder()).load_seconds  # noqa: B018 - not in the contract: not forwarded


def test_wrapper_reports_the_inner_engines_threads():
    inner = FakeLocal()
    inner.n_threads = 3
    assert EngineWrapper(inner).n_threads == 3 and "n_threads" in vars(EngineWrapper)


def test_the_wrappers_build_on_engine_wrapper():
    from slmkit.rag.engine import RagEngine
    from slmkit.route.engine import RoutedEngine
    from slmkit.runtime.llamacpp.engine import AdapterView

    for cls in (RagEngine, RoutedEngine, AdapterView):
        assert issubclass(cls, EngineWrapper)
        assert "__getattr__" not in vars(cls), cls


def test_a_wrapper_that_declares_adapters_off_refuses_with_adapter():
    from slmkit.rag.engine import RagEngine

    inner = Recorder()
    rag = RagEngine(inner, retriever=None, name="rag:x")
    assert rag.info.name == "rag:x" and not rag.info.capabilities.adapters
    with pytest.raises(UnsupportedOperationError, match="adapters"):
        rag.with_adapter("tuned")
    assert inner.calls == []


def test_require_names_the_engine_and_rejects_unknown_capabilities():
    eng = FakeLocal()
    with pytest.raises(UnsupportedOperationError, match="fake-local .*logits") as err:
        require(eng, "logits")
    assert err.value.hint
    require(eng, "generate")
    with pytest.raises(ValueError, match="not a capability"):
        require(eng, "logit")  # a typo fails loudly


def test_routed_usage_carries_a_typed_decision():
    from slmkit.route.engine import RoutedEngine

    class Guard:  # nothing escalates in this test
        pass

    routed = RoutedEngine(FakeLocal(), FakeLocal(), guard=Guard())
    stream = routed.generate(GenerateRequest(prompt="#route:local easy"))
    assert isinstance(stream, ChunkStream)
    out = collect(stream)
    assert type(out.usage) is Usage and isinstance(out.usage.decision, RouteDecision)
    assert out.usage.decision.route == "local" and out.usage.decision.reason == "tag:local"
    with pytest.raises(UnsupportedOperationError):
        routed.with_adapter("tuned")


def test_a_generator_is_a_chunk_stream():
    def gen():
        yield from ()
    assert isinstance(gen(), ChunkStream)
    assert not isinstance(iter([]), ChunkStream)  # no close(): not a stream
