"""The part of vLLM's Python API this backend uses, imported on demand, and the mapping of
a ``GenerateRequest`` onto vLLM's ``SamplingParams``.

Only these names are used: ``vllm.engine.arg_utils.AsyncEngineArgs``,
``vllm.v1.engine.async_llm.AsyncLLM`` (older releases: ``vllm.AsyncLLMEngine``),
``vllm.sampling_params.{SamplingParams, RequestOutputKind, StructuredOutputsParams}``
(before 0.11: ``GuidedDecodingParams`` and ``guided_decoding=``) and
``vllm.lora.request.LoRARequest``. The unit tests put a fake with these names into
``sys.modules``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from slmkit.core.errors import SlmError, UnsupportedOperationError
from slmkit.core.types import GenerateRequest

MISSING_HINT = ("vLLM is not installed; it needs an NVIDIA GPU host: pip install "
                "'slmkit[vllm]'")


class VllmMissingError(SlmError):
    """vLLM cannot be imported here (not installed, or no CUDA build for this machine)."""

    code = "vllm_missing"


@dataclass(frozen=True)
class VllmApi:
    """The vLLM classes in use, whichever release provides them."""

    AsyncLLM: Any
    AsyncEngineArgs: Any
    SamplingParams: Any
    RequestOutputKind: Any
    LoRARequest: Any
    Structured: Any  # StructuredOutputsParams, or GuidedDecodingParams before 0.11
    structured_field: str  # "structured_outputs" or "guided_decoding"


def import_vllm() -> VllmApi:
    """The vLLM API, or :class:`VllmMissingError` with the install command."""
    try:
        sp = importlib.import_module("vllm.sampling_params")
        args = importlib.import_module("vllm.engine.arg_utils")
        lora = importlib.import_module("vllm.lora.request")
    except ImportError as err:
        raise VllmMissingError(f"cannot import vllm ({err})", hint=MISSING_HINT) from None
    try:
        async_llm = importlib.import_module("vllm.v1.engine.async_llm").AsyncLLM
    except (ImportError, AttributeError):
        async_llm = importlib.import_module("vllm").AsyncLLMEngine
    structured = getattr(sp, "StructuredOutputsParams", None)
    field = "structured_outputs"
    if structured is None:
        structured, field = sp.GuidedDecodingParams, "guided_decoding"
    return VllmApi(async_llm, args.AsyncEngineArgs, sp.SamplingParams, sp.RequestOutputKind,
                   lora.LoRARequest, structured, field)


def sampling_params(api: VllmApi, request: GenerateRequest, *, max_tokens: int,
                    stop_token_ids: list[int]) -> Any:
    """vLLM ``SamplingParams`` for ``request``: streamed as deltas, ``max_tokens`` already
    fitted to the context, stop strings and the model's end-of-generation ids, log-probs
    and a JSON schema or grammar as vLLM's structured output."""
    s = request.sampling
    kwargs: dict[str, Any] = dict(
        max_tokens=max_tokens, temperature=max(s.temperature, 0.0), top_p=s.top_p,
        top_k=s.top_k if s.top_k > 0 else -1, min_p=s.min_p,
        repetition_penalty=s.repeat_penalty, frequency_penalty=s.frequency_penalty,
        presence_penalty=s.presence_penalty, seed=s.seed, stop=list(request.stop) or None,
        stop_token_ids=stop_token_ids, logprobs=request.logprobs,
        output_kind=api.RequestOutputKind.DELTA)
    constraint = structured(api, request)
    if constraint is not None:
        kwargs[api.structured_field] = constraint
    return api.SamplingParams(**kwargs)


def scoring_params(api: VllmApi, top: int) -> Any:
    """``SamplingParams`` that score a prompt: one greedy token, ``prompt_logprobs=top``."""
    return api.SamplingParams(max_tokens=1, temperature=0.0, prompt_logprobs=top,
                              output_kind=api.RequestOutputKind.FINAL_ONLY)


def structured(api: VllmApi, request: GenerateRequest) -> Any:
    """vLLM's structured-output parameters for a JSON schema or a raw grammar (GBNF is read
    by vLLM's xgrammar backend); None without either. Tool-call constraints are refused."""
    if request.tool_calls is not None:
        raise UnsupportedOperationError(
            "the vllm engine does not constrain tool calls (vLLM parses them server-side)",
            hint="send the tools without a tool-call constraint, or use the llamacpp engine")
    if request.json_schema is not None:
        return api.Structured(json=request.json_schema or {"type": "object"})
    if request.grammar is not None:
        return api.Structured(grammar=request.grammar)
    return None


def lora_rank(ranks: list[int]) -> int:
    """The smallest ``max_lora_rank`` vLLM accepts that holds every adapter's rank."""
    need = max(ranks or [8])
    for allowed in (8, 16, 32, 64, 128, 256, 320, 512):
        if need <= allowed:
            return allowed
    raise ValueError(f"LoRA rank {need} is over vLLM's largest (512)")
