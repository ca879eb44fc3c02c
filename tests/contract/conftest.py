"""Every engine the project ships, opened the way a user opens it, for the contract suite.

A :class:`Case` names an engine, how to open a fresh one, and what its contract says it
can do beyond the core (a remote engine has no tokenizer; a retrieval-augmented answer
ends with a "Sources:" footer). Expensive things (tiny models, exports, servers) are built
once per session and only for the cases selected.

Fast cases run on tiny random models and fakes (``vllm-fake``: the vLLM engine over a fake
of vLLM's API, see ``helpers/fake_vllm.py``); ``llamacpp`` and ``remote-llamacpp`` use the
real default model (integration).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from helpers.fake_engine import FakeLocal
from slmkit.core.retrieval import Passage

TINY_CTX = 64


@dataclass(frozen=True)
class Case:
    """How to open one kind of engine and what it promises.

    ``tokenizes`` and ``scores``: tokenize/detokenize and token_logprobs work (otherwise
    they raise ``NotImplementedError``). ``truncates``: ``request.truncate`` keeps the end
    of an over-long prompt (a remote engine cannot: the OpenAI API has no such field, so
    it still raises ``ContextOverflowError``). ``routes``: the last chunk's usage carries a
    ``RouteDecision``. ``forwards_schema``: a JSON schema is sent on to the upstream
    (``response_format``), which enforces it, though the engine has no grammar of its own.
    ``rebuilds_prompt``: a wrapper that evaluates a prompt of its own around the request's
    (RAG). ``strip`` removes what a wrapper adds to every
    answer, leaving the model's text. ``overflow_words``: a prompt of that many words is
    over the context (``None``: the engine's ``info.n_ctx``, plus margin)."""

    name: str
    open: Callable[[], object]
    tokenizes: bool = True
    scores: bool = True
    truncates: bool = True
    routes: bool = False
    forwards_schema: bool = False
    rebuilds_prompt: bool = False
    strip: Callable[[str], str] = lambda text: text  # noqa: E731
    overflow_words: int | None = None


def rag_strip(text: str) -> str:
    return re.split(r"\n\nSources: ", text, maxsplit=1)[0]


class FixedRetriever:
    """``core.Retriever`` that always finds one close passage (no embedder needed)."""

    def __init__(self) -> None:
        self.closed = False

    def retrieve(self, query: str, k: int = 5) -> list[Passage]:
        return [Passage(1, "Rivers carry water from the mountains to the sea.",
                        "notes/rivers.md", 1.0, similarity=0.9, line_start=1, line_end=2)][:k]

    def close(self) -> None:
        self.closed = True


# ---- shared resources ----------------------------------------------------------------------
@pytest.fixture(scope="session")
def tiny_hf(tmp_path_factory):
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    import torch

    from helpers.tiny_models import build_model

    torch.set_num_threads(1)
    return build_model(tmp_path_factory.mktemp("contract-hf") / "m", "llama")


@pytest.fixture(scope="session")
def tiny_onnx(tiny_hf, tmp_path_factory):
    pytest.importorskip("onnxruntime_genai")
    pytest.importorskip("onnx_ir")
    from slmkit.convert.to_onnx import hf_to_onnx

    return hf_to_onnx(tiny_hf, tmp_path_factory.mktemp("contract-onnx") / "fp32",
                      precision="fp32")


@pytest.fixture(scope="session")
def tiny_gguf(tiny_hf, tmp_path_factory):
    from slmkit.convert import hf_to_gguf

    return hf_to_gguf(tiny_hf, tmp_path_factory.mktemp("contract-gguf") / "m.gguf")


@pytest.fixture(scope="session")
def fake_server():
    """``create_app`` over a fake engine, on a loopback socket."""
    from helpers.fake_server import LiveServer, fake_app, one_model

    app, _ = fake_app(one_model("fake", n_ctx=256, grammar=True, schema_answer='{"ok": true}'))
    with LiveServer(app) as srv:
        yield srv


@pytest.fixture(scope="session")
def real_server(default_model_path):
    """``create_app`` over the real default model (llama.cpp), on a loopback socket."""
    from helpers.fake_server import FakeLoader, LiveServer, fake_app
    from slmkit.runtime import load_engine

    loader = FakeLoader({"smollm2": lambda: load_engine(
        default_model_path, name="smollm2", n_ctx=1024, n_threads=2, n_parallel=2)})
    app, _ = fake_app(loader)
    with LiveServer(app) as srv:
        yield srv


@pytest.fixture(scope="session")
def fake_vllm_dir(tmp_path_factory):
    """A model directory for the vLLM engine against the fake vLLM, with one PEFT adapter."""
    import json

    from helpers.fake_vllm import build_model_dir

    root = build_model_dir(tmp_path_factory.mktemp("contract-vllm") / "m", n_ctx=TINY_CTX)
    lora = root.parent / "lora"
    lora.mkdir()
    (lora / "adapter_config.json").write_text(json.dumps({"r": 8}), encoding="utf-8")
    return root, lora


@pytest.fixture(scope="session")
def upstream():
    from helpers.upstream import Upstream

    server = Upstream()
    yield server
    server.stop()


# ---- the cases ------------------------------------------------------------------------------
def _remote(url: str, model: str, **kw):
    from slmkit.runtime.remote import RemoteEngine, RetryPolicy

    return RemoteEngine(url, model=model, timeout=120, connect_timeout=5,
                        retry=RetryPolicy(max_retries=1, backoff=0.01, max_backoff=0.02), **kw)


def _routed(upstream_url: str):
    from slmkit.guard import Guard
    from slmkit.route import PriceTable, RouteConfig, RoutedEngine

    remote = _remote(upstream_url, "big-model", n_ctx=1024)
    return RoutedEngine(FakeLocal(n_ctx=256), remote, guard=Guard(),
                        config=RouteConfig(judge_tokens=2),
                        prices=PriceTable.load(extra={"big-model": (5.0, 15.0)}))


def _rag(inner):
    from slmkit.rag.engine import RagEngine

    return RagEngine(inner, FixedRetriever(), name="rag:notes", k=1)


def _load(path, backend: str, n_ctx: int = TINY_CTX):
    from slmkit.runtime import load_engine

    return load_engine(str(path), backend=backend, name=f"tiny-{backend}", n_ctx=n_ctx,
                       n_threads=1)


def make_case(name: str, request) -> Case:
    """The case ``name``; builds only the resources it needs."""
    get = request.getfixturevalue
    if name == "fake":
        return Case(name, lambda: FakeLocal(n_ctx=256))
    if name == "torch":
        hf = get("tiny_hf")
        return Case(name, lambda: _load(hf, "torch"))
    if name == "onnx":
        onnx = get("tiny_onnx")
        return Case(name, lambda: _load(onnx, "onnx"))
    if name == "llamacpp-tiny":
        gguf = get("tiny_gguf")
        return Case(name, lambda: _load(gguf, "llamacpp"))
    if name == "llamacpp":
        path = get("default_model_path")
        return Case(name, lambda: _load(path, "llamacpp", n_ctx=512))
    if name == "remote":
        url = get("fake_server").url
        return Case(name, lambda: _remote(url, "fake"), tokenizes=False, scores=False,
                    truncates=False, forwards_schema=True, overflow_words=300)
    if name == "remote-llamacpp":
        url = get("real_server").url
        return Case(name, lambda: _remote(url, "smollm2"), tokenizes=False, scores=False,
                    truncates=False, forwards_schema=True, overflow_words=1100)
    if name == "vllm-fake":
        from helpers.fake_vllm import open_fake

        model, lora = get("fake_vllm_dir")
        return Case(name, lambda: open_fake(model, name="tiny-vllm", n_ctx=TINY_CTX,
                                            n_threads=1, adapters={"style": str(lora)}))
    if name == "rag":
        return Case(name, lambda: _rag(FakeLocal(n_ctx=256)), strip=rag_strip,
                    rebuilds_prompt=True)
    if name == "rag-torch":
        hf = get("tiny_hf")
        # the sources and instructions need more room than the other tiny cases' 64 tokens
        return Case(name, lambda: _rag(_load(hf, "torch", n_ctx=256)), strip=rag_strip,
                    rebuilds_prompt=True)
    if name == "routed":
        url = get("upstream").url
        return Case(name, lambda: _routed(url), overflow_words=1100, routes=True)
    raise ValueError(name)


CASES = [
    "fake", "torch", "onnx", "llamacpp-tiny", "remote", "rag", "rag-torch", "routed",
    "vllm-fake",
    pytest.param("llamacpp", marks=pytest.mark.integration),
    pytest.param("remote-llamacpp", marks=pytest.mark.integration),
]


@pytest.fixture(scope="module", params=CASES)
def case(request) -> Case:
    return make_case(request.param, request)


@pytest.fixture(scope="module")
def engine(case):
    """One engine per case, shared by the module's checks (they leave it serving)."""
    eng = case.open()
    yield eng
    eng.close()
