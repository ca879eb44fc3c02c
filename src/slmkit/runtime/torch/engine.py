"""The torch backend (transformers on CPU, or a CUDA GPU with ``device="cuda"`` or the
setting ``model.torch_device``): the same contract as the llama.cpp engine.

It exists for the work llama.cpp cannot do — fine-tuning, pruning, distillation need
gradients and editable weights — and as a second, independent implementation to check
the first against. This module is only the forward pass (:class:`TorchForward`: the
model, its ``DynamicCache`` and the mean-pooled embedding); the decode loop, sampling,
streaming and scoring are :class:`~slmkit.runtime.pyloop.PyLoopEngine`'s, shared with the
onnx backend. The cache is kept across requests, so a prompt that starts like the last
one only evaluates its new tokens.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence

import numpy as np

from slmkit.core.engine import Capabilities, ModelInfo
from slmkit.runtime.hfvocab import HFText
from slmkit.runtime.pyloop import PyLoopEngine
from slmkit.runtime.torch import loader
from slmkit.util.threads import default_threads

QUANT_NAMES = {"float32": "F32", "bfloat16": "BF16", "float16": "F16"}


def cache_argument(model) -> str:
    """The name of the KV-cache argument (and output field) of ``model.forward``: ``cache``
    in recent transformers releases, ``past_key_values`` before (5.17 still uses it)."""
    import inspect

    return "cache" if "cache" in inspect.signature(model.forward).parameters \
        else "past_key_values"


class TorchForward:
    """A transformers causal LM and its KV cache (see ``pyloop.ForwardPass``)."""

    def __init__(self, loaded: loader.Loaded, device: str = "cpu") -> None:
        self.model, self.loaded, self.device = loaded.model, loaded, device
        self.quant_report = loaded.quant  # torchao QuantReport, or None when float
        n_vocab = self.model.get_output_embeddings().weight.shape[0]
        self.text = HFText(loaded.tokenizer, n_vocab, add_bos=loaded.add_bos,
                           declared_eos=self._declared_eos())
        self._cache = None
        self._cached = 0  # positions the cache holds
        self._cache_arg = cache_argument(self.model)

    def _declared_eos(self) -> list[int | None]:
        ids: list = []
        for source in (self.model.config, self.model.generation_config):
            value = getattr(source, "eos_token_id", None)  # transformers objects, not ours
            ids += value if isinstance(value, (list, tuple)) else [value]
        return ids

    def feed(self, tokens: Sequence[int], *, n_logits: int) -> np.ndarray:
        import torch

        if self._cache is None:
            from transformers import DynamicCache

            self._cache = DynamicCache(config=self.model.config)
        with torch.inference_mode():
            ids = torch.tensor([list(tokens)], device=self.device)
            out = self.model(input_ids=ids, **{self._cache_arg: self._cache},
                             use_cache=True, logits_to_keep=max(n_logits, 1))
        self._cache = out.get(self._cache_arg)
        self._cached += len(tokens)
        if not n_logits:
            return np.empty((0, self.text.n_vocab), np.float32)
        return out.logits[0, -n_logits:].float().cpu().numpy()  # [n_logits, n_vocab]

    def truncate(self, keep: int) -> bool:
        if self._cache is None or not self._cache.is_croppable:
            return False
        self._cache.crop(keep - self._cached)  # crop takes how many to drop, negated
        self._cached = keep
        return True

    def reset(self) -> None:
        self._cache, self._cached = None, 0

    def embed(self, tokens: Sequence[int]) -> np.ndarray:
        """Mean of the final hidden states of ``tokens`` (float32 [n_embd])."""
        import torch

        with torch.inference_mode():
            ids = torch.tensor([list(tokens)], device=self.device)
            hidden = self.model.get_decoder()(input_ids=ids)
            return hidden.last_hidden_state[0].float().mean(dim=0).cpu().numpy()

    def close(self) -> None:
        self._cache = None
        self.model = None

    def describe(self, name: str, path: str, dtype: str, n_ctx: int) -> ModelInfo:
        model, loaded = self.model, self.loaded
        cfg = model.config
        if loaded.quant is not None:  # torchao tensors: count packed data + scales
            from slmkit.runtime.torch.quantize import weight_bytes

            size, quant = weight_bytes(model), loaded.quant.recipe.label
        else:
            size = sum(p.numel() * p.element_size() for p in model.parameters())
            quant = QUANT_NAMES[dtype]
        n_ctx_train = int(getattr(cfg, "max_position_embeddings", 0) or n_ctx)
        return ModelInfo(
            name=name, path=path, architecture=loaded.architecture,
            n_params=sum(p.numel() for p in model.parameters()), n_vocab=self.text.n_vocab,
            n_ctx=min(n_ctx, n_ctx_train) if n_ctx > 0 else n_ctx_train, n_ctx_train=n_ctx_train,
            n_embd=int(getattr(cfg, "hidden_size", 0)), quantization=quant, size_bytes=size,
            chat_template=loaded.chat_template,
            capabilities=Capabilities(logits=True, embed=True, max_sequences=1))


def open_engine(path: str, *, name: str | None = None, n_ctx: int = 4096, n_threads: int = 0,
                n_batch: int = 512, dtype: str | None = None, n_gpu_layers: int = 0,
                verbose: bool = False, quant: str | None = None,
                device: str | None = None) -> PyLoopEngine:
    """``core.Engine`` over a Hugging Face directory or a (dequantized) GGUF file.

    One request at a time (calls are serialised). ``n_threads`` sets torch's intra-op
    threads for the whole process (torch has one pool per process). ``quant`` applies
    torchao weight-only quantization after loading (the report is
    ``engine.forward.quant_report``). ``device``: ``cpu`` (default: the setting
    ``model.torch_device``), ``cuda`` or ``cuda:N``; ``dtype`` defaults to float32 on the
    CPU and bfloat16 on a GPU.
    """
    import torch

    del n_gpu_layers  # llama.cpp's option; the torch engine moves the whole model
    threads = n_threads or default_threads()
    torch.set_num_threads(threads)
    device = device or _default_device()
    dtype = dtype or ("float32" if device == "cpu" else "bfloat16")
    t0 = time.perf_counter()
    loaded = loader.load(path, dtype=dtype, verbose=verbose, quant=quant)
    if device != "cpu":
        loaded.model.to(device)
    forward = TorchForward(loaded, device)
    info = forward.describe(name or os.path.basename(os.path.normpath(path)), path, dtype, n_ctx)
    return PyLoopEngine(forward, info, backend="torch", n_batch=n_batch, n_threads=threads,
                        load_seconds=time.perf_counter() - t0)


def _default_device() -> str:
    from slmkit.settings import get_settings

    return get_settings().torch_device or "cpu"
