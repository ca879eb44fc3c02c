"""A fake of the part of vLLM's Python API that ``slmkit.runtime.vllm`` uses, for tests on
machines without vLLM (vLLM needs an NVIDIA GPU).

:func:`installed` puts modules named like vLLM's into ``sys.modules``:
``vllm.engine.arg_utils.AsyncEngineArgs``, ``vllm.v1.engine.async_llm.AsyncLLM``,
``vllm.sampling_params.{SamplingParams, RequestOutputKind, StructuredOutputsParams}`` and
``vllm.lora.request.LoRARequest``, with the fields vLLM has.

The "model" is deterministic: the next-token logits are a fixed pseudo-random function of
the last two tokens (and the LoRA adapter), so greedy decoding repeats and log-probabilities
are real log-softmax values. It honours what the engine relies on: DELTA / FINAL_ONLY
output, ``max_tokens``, ``stop`` (held back and cut like vLLM), ``stop_token_ids``,
``logprobs`` and ``prompt_logprobs``, a JSON-schema structured output (it writes
``schema_answer``), aborts (by id, or by cancelling the consumer) and ``shutdown``.
Every engine made and every request seen is recorded on the class for the tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import json
import sys
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

SCHEMA_ANSWER = '{"ok": true}'


class RequestOutputKind(enum.Enum):
    CUMULATIVE = 0
    DELTA = 1
    FINAL_ONLY = 2


@dataclass
class StructuredOutputsParams:
    json: str | dict | None = None
    regex: str | None = None
    choice: list[str] | None = None
    grammar: str | None = None
    json_object: bool | None = None


@dataclass
class SamplingParams:
    n: int = 1
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    repetition_penalty: float = 1.0
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0
    min_p: float = 0.0
    seed: int | None = None
    stop: str | list[str] | None = None
    stop_token_ids: list[int] | None = None
    ignore_eos: bool = False
    max_tokens: int | None = 16
    logprobs: int | None = None
    prompt_logprobs: int | None = None
    output_kind: RequestOutputKind = RequestOutputKind.CUMULATIVE
    structured_outputs: StructuredOutputsParams | None = None

    def __post_init__(self) -> None:  # vLLM's own checks that the engine must satisfy
        if self.max_tokens is not None and self.max_tokens < 1:
            raise ValueError(f"max_tokens must be at least 1, got {self.max_tokens}")
        if not 0.0 < self.top_p <= 1.0:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")


@dataclass
class LoRARequest:
    lora_name: str
    lora_int_id: int
    lora_path: str = ""


@dataclass
class AsyncEngineArgs:
    model: str
    tokenizer: str | None = None
    max_model_len: int | None = None
    max_num_seqs: int = 256
    gpu_memory_utilization: float = 0.9
    dtype: str = "auto"
    disable_log_stats: bool = False
    enable_lora: bool = False
    max_loras: int = 1
    max_lora_rank: int = 16
    extra: dict = field(default_factory=dict)


@dataclass
class Logprob:
    logprob: float
    rank: int | None = None
    decoded_token: str | None = None


@dataclass
class CompletionOutput:
    index: int
    text: str
    token_ids: list[int]
    cumulative_logprob: float | None
    logprobs: list[dict[int, Logprob]] | None
    finish_reason: str | None = None
    stop_reason: int | str | None = None


@dataclass
class RequestOutput:
    request_id: str
    prompt_token_ids: list[int]
    prompt_logprobs: list[dict[int, Logprob] | None] | None
    outputs: list[CompletionOutput]
    finished: bool
    num_cached_tokens: int = 0


class AsyncLLM:
    """The fake engine. ``made``: every instance; ``step_seconds``: the pause between
    tokens (a cancellation test sets it so a request is still running when it closes)."""

    made: list[AsyncLLM] = []
    step_seconds = 0.0
    schema_answer = SCHEMA_ANSWER

    def __init__(self, args: AsyncEngineArgs) -> None:
        from transformers import AutoTokenizer

        self.args = args
        self.tokenizer = AutoTokenizer.from_pretrained(args.tokenizer or args.model)
        config = json.loads((Path(args.model) / "config.json").read_text())
        self.n_vocab = int(config["vocab_size"])
        # tokens the fake prefers: whole printable text (no half UTF-8 character, no
        # control or special token), so its answers read as text and stream stably
        special = set(self.tokenizer.all_special_ids)
        self.penalty = np.array([
            0.0 if t not in special and _clean(self.tokenizer.decode([t])) else -20.0
            for t in range(self.n_vocab)])
        self.requests: list[tuple[str, list[int], SamplingParams, LoRARequest | None]] = []
        self.aborted: list[str] = []
        self.finished: dict[str, str] = {}  # request id → finish reason
        self.shut_down = False
        self.loop: asyncio.AbstractEventLoop | None = None

    @classmethod
    def from_engine_args(cls, args: AsyncEngineArgs) -> AsyncLLM:
        engine = cls(args)
        engine.loop = asyncio.get_running_loop()  # vLLM needs a running loop too
        cls.made.append(engine)
        return engine

    # ---- the "model" ------------------------------------------------------------------
    def logprobs_after(self, context: list[int], lora: LoRARequest | None) -> np.ndarray:
        a, b = (context[-2:] if len(context) >= 2 else [0, *context[-1:]])
        salt = lora.lora_int_id if lora else 0
        rng = np.random.default_rng((a * 1_000_003 + b * 7919 + salt * 104_729) % 2**32)
        logits = rng.standard_normal(self.n_vocab) * 4.0 + self.penalty
        return logits - np.logaddexp.reduce(logits)

    def entry(self, row: np.ndarray, token: int, n: int) -> dict[int, Logprob]:
        order = np.argsort(-row)
        ranks = {int(t): r + 1 for r, t in enumerate(order[: max(n, 0)])}
        out = {int(t): Logprob(float(row[t]), ranks[int(t)]) for t in order[: max(n, 0)]}
        rank = int((row > row[token]).sum()) + 1
        out[int(token)] = Logprob(float(row[token]), rank)
        return out

    # ---- the API ----------------------------------------------------------------------
    async def generate(self, prompt: dict, sampling_params: SamplingParams, request_id: str,
                       *, lora_request: LoRARequest | None = None, **_: Any):
        ids = list(prompt["prompt_token_ids"])
        sp = sampling_params
        self.requests.append((request_id, ids, sp, lora_request))
        if self.args.max_model_len and len(ids) >= self.args.max_model_len:
            raise ValueError(f"prompt of {len(ids)} tokens is over max_model_len")
        try:
            if sp.prompt_logprobs is not None:
                yield self._scored(request_id, ids, sp, lora_request)
                return
            async for out in self._decode(request_id, ids, sp, lora_request):
                yield out
        except (asyncio.CancelledError, GeneratorExit):
            await self.abort(request_id)
            raise

    async def abort(self, request_id: str) -> None:
        self.aborted.append(request_id)

    def shutdown(self) -> None:
        self.shut_down = True

    # ---- internals ---------------------------------------------------------------------
    def _scored(self, request_id, ids, sp, lora) -> RequestOutput:
        rows: list = [None]
        for i in range(1, len(ids)):
            rows.append(self.entry(self.logprobs_after(ids[:i], lora), ids[i],
                                   sp.prompt_logprobs))
        token = int(np.argmax(self.logprobs_after(ids, lora)))
        part = CompletionOutput(0, self.tokenizer.decode([token]), [token], None, None,
                                "length")
        self.finished[request_id] = "length"
        return RequestOutput(request_id, ids, rows, [part], True)

    async def _decode(self, request_id, ids, sp, lora):
        stops = [sp.stop] if isinstance(sp.stop, str) else list(sp.stop or [])
        hold = max((len(s) for s in stops), default=1) - 1
        scripted = (self.tokenizer(self.schema_answer, add_special_tokens=False).input_ids
                    if sp.structured_outputs is not None else None)
        context, out_ids, sent, finish = list(ids), [], 0, None
        pending_ids, pending_lps = [], []
        while finish is None:
            if request_id in self.aborted:
                self.finished[request_id] = "abort"
                return
            row = self.logprobs_after(context, lora)
            if scripted is not None:
                token = scripted[len(out_ids)] if len(out_ids) < len(scripted) else None
                token = token if token is not None else (sp.stop_token_ids or [0])[0]
            else:
                token = int(np.argmax(row))
            context.append(token)
            out_ids.append(token)
            pending_ids.append(token)
            if sp.logprobs is not None:
                pending_lps.append(self.entry(row, token, sp.logprobs))
            text = self.tokenizer.decode(out_ids, skip_special_tokens=True)
            cut = min((text.find(s) for s in stops if s in text), default=-1)
            if cut >= 0:
                text, finish = text[:cut], "stop"
            elif token in (sp.stop_token_ids or []):
                finish = "stop"
            elif len(out_ids) >= (sp.max_tokens or 16):
                finish = "length"
            end = len(text) if finish else max(sent, len(text) - hold)
            delta, sent = text[sent:end], end
            if sp.output_kind is RequestOutputKind.DELTA or finish:
                part = CompletionOutput(0, delta, pending_ids, None,
                                        pending_lps if sp.logprobs is not None else None,
                                        finish)
                pending_ids, pending_lps = [], []
                yield RequestOutput(request_id, ids, None, [part], finish is not None)
            await asyncio.sleep(self.step_seconds)
        self.finished[request_id] = finish


def _clean(text: str) -> bool:
    return bool(text) and "\ufffd" not in text and text.isprintable()


@contextlib.contextmanager
def installed():
    """Make ``import vllm…`` find this fake while the block runs (then restore)."""
    mods = {
        "vllm": types.ModuleType("vllm"),
        "vllm.engine": types.ModuleType("vllm.engine"),
        "vllm.engine.arg_utils": types.ModuleType("vllm.engine.arg_utils"),
        "vllm.v1": types.ModuleType("vllm.v1"),
        "vllm.v1.engine": types.ModuleType("vllm.v1.engine"),
        "vllm.v1.engine.async_llm": types.ModuleType("vllm.v1.engine.async_llm"),
        "vllm.sampling_params": types.ModuleType("vllm.sampling_params"),
        "vllm.lora": types.ModuleType("vllm.lora"),
        "vllm.lora.request": types.ModuleType("vllm.lora.request"),
    }
    mods["vllm.engine.arg_utils"].AsyncEngineArgs = AsyncEngineArgs
    mods["vllm.v1.engine.async_llm"].AsyncLLM = AsyncLLM
    mods["vllm"].AsyncLLMEngine = AsyncLLM
    sp = mods["vllm.sampling_params"]
    sp.SamplingParams, sp.RequestOutputKind = SamplingParams, RequestOutputKind
    sp.StructuredOutputsParams = StructuredOutputsParams
    mods["vllm.lora.request"].LoRARequest = LoRARequest
    saved = {name: sys.modules.get(name) for name in mods}
    sys.modules.update(mods)
    try:
        yield
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


def open_fake(model_dir: str | Path, **options):
    """``load_engine(model_dir, backend="vllm", ...)`` against the fake."""
    from slmkit.runtime import load_engine

    with installed():
        return load_engine(str(model_dir), backend="vllm", **options)


def build_model_dir(out: Path, *, n_ctx: int = 64) -> Path:
    """A model directory the fake can open: the tiny test tokenizer and a config.json (no
    weights: the fake computes none)."""
    from helpers.tiny_models import VOCAB, build_tokenizer

    tok = build_tokenizer(out)
    config = {"model_type": "qwen2", "vocab_size": VOCAB, "hidden_size": 16,
              "max_position_embeddings": n_ctx, "eos_token_id": tok.eos_token_id}
    (out / "config.json").write_text(json.dumps(config), encoding="utf-8")
    return out
