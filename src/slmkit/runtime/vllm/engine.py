"""``VllmEngine``: a Hugging Face model directory served by vLLM in this process.

vLLM's ``AsyncLLM`` runs on a private event loop (:mod:`.bridge`); each request is a
:class:`~.stream.VllmStream`. Prompts are tokenized here with the model's own tokenizer
(the same chat rendering and ids as the torch engine, :class:`HFText`) and handed to vLLM
as token ids, so ``prompt_tokens`` is exactly what vLLM evaluates.

Compared with llama.cpp: many sequences at once on the GPU (continuous batching, paged KV
cache), JSON schemas and grammars through vLLM's structured outputs, LoRA adapters per
request; prompt scoring (``token_logprobs``) through vLLM's prompt log-probabilities. Not
available: full-vocabulary ``logits`` and ``embed`` (a generating vLLM engine does not
pool), tool-call constraints.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from slmkit.core.engine import Capabilities, Engine, EngineStats, ModelInfo, require
from slmkit.core.errors import (
    ContextOverflowError,
    EngineClosedError,
    InvalidModelFileError,
    SlmError,
)
from slmkit.core.types import ChatMessage, GenerateRequest, TokenLogprob
from slmkit.core.wrap import EngineWrapper
from slmkit.runtime.chat_tokens import chat_tokens
from slmkit.runtime.hfvocab import HFText, adds_bos
from slmkit.runtime.prompt import fit_context, prompt_ids
from slmkit.runtime.vllm import api
from slmkit.runtime.vllm.bridge import LoopThread
from slmkit.runtime.vllm.stream import DoneStream, VllmStream, to_logprob


class UnknownAdapterError(SlmError):
    code = "unknown_adapter"


class VllmEngine:
    """``core.Engine`` over vLLM's ``AsyncLLM`` (see the module docstring). Thread-safe."""

    def __init__(self, vllm: api.VllmApi, llm: Any, loop: LoopThread, text: HFText,
                 info: ModelInfo, *, adapters: dict[str, str] | None = None,
                 n_threads: int = 0, load_seconds: float = 0.0) -> None:
        self.vllm, self.llm, self.loop, self.text, self.info = vllm, llm, loop, text, info
        self.n_ctx = info.n_ctx
        self.n_threads, self.load_seconds = n_threads, load_seconds
        self._loras = {name: vllm.LoRARequest(lora_name=name, lora_int_id=i + 1,
                                              lora_path=path)
                       for i, (name, path) in enumerate((adapters or {}).items())}
        self._closed = False

    def stats(self) -> EngineStats:
        """Empty: vLLM schedules internally; the server counts its own requests."""
        return {}

    @property
    def adapters(self) -> list[str]:
        return list(self._loras)

    # ---- text ------------------------------------------------------------------------
    def tokenize(self, text: str, *, add_special: bool = True) -> list[int]:
        self._check_open()
        return self.text.tokenize(text, add_special=add_special)

    def detokenize(self, tokens: Sequence[int]) -> str:
        self._check_open()
        return self.text.vocab.detokenize(tokens)

    def token_text(self, token: int) -> str:
        return self.text.vocab.text(token)

    def render_chat(self, messages: Sequence[ChatMessage], *, add_generation_prompt: bool = True,
                    tools: Sequence[dict] | None = None) -> str:
        self._check_open()
        return self.text.render_chat(messages, self.info.chat_template,
                                     add_generation_prompt=add_generation_prompt, tools=tools)

    def prompt_tokens(self, request: GenerateRequest) -> list[int]:
        """The ids vLLM evaluates for ``request`` (chat template applied to messages)."""
        render = functools.partial(self.render_chat, tools=request.tools)
        if request.messages is not None and request.prompt_tokens is None:
            self._check_open()
            return chat_tokens(self.text, request.messages, render)
        return prompt_ids(request, render=render, tokenize=self.tokenize,
                          bos_text=self.text.bos_text)

    # ---- generation ------------------------------------------------------------------
    def generate(self, request: GenerateRequest) -> VllmStream | DoneStream:
        """Validate, fit the prompt, build vLLM's parameters (raising here), then submit."""
        self._check_open()
        request.validate()
        lora = self._lora(request.adapter)
        tokens = fit_context(self.prompt_tokens(request), request, self.n_ctx)
        self._check_ids(tokens)
        room = self.n_ctx - len(tokens)
        limit = room if request.max_tokens is None else min(request.max_tokens, room)
        params = api.sampling_params(self.vllm, request, max_tokens=max(limit, 1),
                                     stop_token_ids=sorted(self.text.eog))
        if limit == 0:
            return DoneStream(len(tokens))
        return VllmStream(self, request, tokens, params, lora)

    def _lora(self, name: str | None):
        if name is None:
            return None
        self.check_adapter(name)
        return self._loras[name]

    def check_adapter(self, name: str) -> None:
        if name not in self._loras:
            loaded = ", ".join(self._loras) or "none"
            raise UnknownAdapterError(f"no adapter {name!r} is loaded in {self.info.name} "
                                      f"(loaded: {loaded})",
                                      hint="load it with `slm serve MODEL@vllm --adapter "
                                           "NAME=PEFT_DIR`")

    def _check_ids(self, tokens: Sequence[int]) -> None:
        n = self.text.n_vocab
        bad = [t for t in tokens if not 0 <= int(t) < n]
        if bad:
            raise ValueError(f"token id {bad[0]} is outside the vocabulary (0…{n - 1})")

    # ---- scoring ---------------------------------------------------------------------
    def token_logprobs(self, tokens: Sequence[int], *, top: int = 0,
                       adapter: str | None = None) -> list[TokenLogprob]:
        """Entry i is log p(tokens[i+1] | tokens[:i+1]), from vLLM's prompt log-probs."""
        self._check_open()
        tokens = [int(t) for t in tokens]
        if len(tokens) > self.n_ctx:
            raise ContextOverflowError(len(tokens), self.n_ctx)
        if len(tokens) < 2:
            return []
        self._check_ids(tokens)
        lora = self._lora(adapter)
        params = api.scoring_params(self.vllm, top)
        final = self.loop.call(_last_output(self.llm, tokens, params, lora))
        rows = final.prompt_logprobs or []
        return [to_logprob(self.token_text, tokens[i], rows[i] or {}, top)
                for i in range(1, len(tokens))]

    def logits(self, tokens: Sequence[int], *, first: int = 0):
        require(self, "logits", hint="vLLM returns log-probabilities, not logits; use the "
                                     "torch or llamacpp engine for full-vocabulary logits")
        raise AssertionError("unreachable")

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        require(self, "embed", hint="a generating vLLM engine does not pool; use an embedder")
        raise AssertionError("unreachable")

    def with_adapter(self, name: str, *,
                     on_close: Callable[[], None] | None = None) -> Engine:
        """This engine with LoRA adapter ``name`` applied to every call."""
        self._check_open()
        require(self, "adapters", hint="open the model with adapters={NAME: PEFT_DIR}")
        self.check_adapter(name)
        return VllmAdapterView(self, name, on_close=on_close)

    # ---- lifecycle -------------------------------------------------------------------
    def _check_open(self) -> None:
        if self._closed:
            raise EngineClosedError(f"engine for {self.info.name} is closed")

    def close(self) -> None:
        """Abort what runs, shut vLLM down (its GPU memory is freed) and stop the loop."""
        if self._closed:
            return
        self._closed = True
        shutdown = getattr(self.llm, "shutdown", None)
        try:
            if shutdown is not None:
                shutdown()
        finally:
            self.loop.stop()

    def __enter__(self) -> VllmEngine:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


async def _last_output(llm, tokens: list[int], params, lora):
    last = None
    request_id = f"slm-score-{time.monotonic_ns()}"
    async for out in llm.generate({"prompt_token_ids": tokens}, params, request_id,
                                  lora_request=lora):
        last = out
    return last


class VllmAdapterView(EngineWrapper):
    """A :class:`VllmEngine` with one LoRA adapter on every request; closing the view runs
    its ``on_close`` and leaves the base open."""

    def __init__(self, base: VllmEngine, adapter: str, *,
                 on_close: Callable[[], None] | None = None) -> None:
        super().__init__(base, info=dataclasses.replace(base.info,
                                                        name=f"{base.info.name}+{adapter}"))
        self.base, self.adapter, self._on_close = base, adapter, on_close

    def generate(self, request: GenerateRequest):
        return self.base.generate(dataclasses.replace(request, adapter=self.adapter))

    def token_logprobs(self, tokens: Sequence[int], *, top: int = 0) -> list[TokenLogprob]:
        return self.base.token_logprobs(tokens, top=top, adapter=self.adapter)

    def with_adapter(self, name: str, *, on_close: Callable[[], None] | None = None) -> Engine:
        return self.base.with_adapter(name, on_close=on_close)

    def close(self) -> None:
        callback, self._on_close = self._on_close, None
        if callback is not None:
            callback()


# ---- opening -------------------------------------------------------------------------------
def open_engine(path: str, *, name: str | None = None, n_ctx: int = 4096, n_threads: int = 0,
                verbose: bool = False, adapters: dict[str, str] | None = None,
                max_sequences: int = 64, gpu_memory_utilization: float = 0.85,
                dtype: str = "auto", **engine_args: Any) -> VllmEngine:
    """Open a Hugging Face model directory with vLLM (an NVIDIA GPU host).

    ``n_ctx`` becomes vLLM's ``max_model_len`` (capped at the trained context);
    ``max_sequences`` its ``max_num_seqs``; ``adapters`` ({name: PEFT directory}) turns on
    multi-LoRA. Other keyword arguments go to vLLM's ``AsyncEngineArgs`` as they are
    (``tensor_parallel_size``, ``enforce_eager``, …). Local-only options of other backends
    (``n_parallel``, ``max_queue``, ``n_batch``) are accepted and ignored."""
    for ignored in ("n_parallel", "max_queue", "n_batch", "n_gpu_layers"):
        engine_args.pop(ignored, None)
    root = _model_dir(path)
    vllm = api.import_vllm()
    config = _read_json(root / "config.json")
    trained = int(config.get("max_position_embeddings") or n_ctx or 4096)
    ctx = min(n_ctx, trained) if n_ctx > 0 else trained
    loras = {k: _peft_dir(v) for k, v in (adapters or {}).items()}
    args = dict(model=str(root), tokenizer=str(root), max_model_len=ctx,
                max_num_seqs=max_sequences, gpu_memory_utilization=gpu_memory_utilization,
                dtype=dtype, disable_log_stats=not verbose, **engine_args)
    if loras:
        ranks = [int(_read_json(Path(p) / "adapter_config.json").get("r", 8))
                 for p in loras.values()]
        args.update(enable_lora=True, max_loras=len(loras), max_lora_rank=api.lora_rank(ranks))
    t0 = time.perf_counter()
    text = _hf_text(root, config)
    loop = LoopThread()
    try:
        llm = loop.call(_start(vllm, args))
    except BaseException:
        loop.stop()
        raise
    info = ModelInfo(
        name=name or root.name, path=str(root), architecture=str(config.get("model_type", "")),
        n_vocab=text.n_vocab, n_ctx=ctx, n_ctx_train=trained,
        n_embd=int(config.get("hidden_size") or 0), quantization=dtype,
        size_bytes=sum(f.stat().st_size for f in root.glob("*.safetensors")),
        chat_template=text.tokenizer.chat_template,
        capabilities=Capabilities(logprobs=True, logits=False, adapters=bool(loras),
                                  embed=False, grammar=True, max_sequences=max_sequences))
    return VllmEngine(vllm, llm, loop, text, info, adapters=loras, n_threads=n_threads,
                      load_seconds=time.perf_counter() - t0)


async def _start(vllm: api.VllmApi, args: dict):
    """vLLM's engine, made on the loop that will run it."""
    return vllm.AsyncLLM.from_engine_args(vllm.AsyncEngineArgs(**args))


def _model_dir(path: str) -> Path:
    root = Path(path).expanduser()
    if root.is_dir() and (root / "config.json").is_file():
        return root
    raise InvalidModelFileError(
        f"vLLM opens a Hugging Face model directory (config.json + *.safetensors); {path} "
        "is not one", hint="convert a GGUF first: slm convert MODEL --to hf -o DIR, then "
                           "open DIR@vllm")


def _peft_dir(path: str) -> str:
    """The PEFT directory of an adapter (``slm finetune`` output, or its adapter.gguf's
    folder): vLLM loads ``adapter_config.json`` + weights, not GGUF adapters."""
    p = Path(path).expanduser()
    folder = p.parent if p.is_file() else p
    if (folder / "adapter_config.json").is_file():
        return str(folder)
    raise InvalidModelFileError(f"{path} is not a PEFT adapter directory (no "
                                "adapter_config.json)", hint="give the `slm finetune` "
                                                             "output directory")


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}


def _hf_text(root: Path, config: dict) -> HFText:
    """The model's tokenizer as the other Python-loop engines see it."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(root))
    declared = []
    for source in (config, _read_json(root / "generation_config.json")):
        value = source.get("eos_token_id")
        declared += value if isinstance(value, list) else [value]
    n_vocab = int(config.get("vocab_size") or len(tokenizer))
    return HFText(tokenizer, n_vocab, add_bos=adds_bos(tokenizer), declared_eos=declared)


__all__ = ["VllmAdapterView", "VllmEngine", "open_engine"]
