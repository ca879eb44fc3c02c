"""The torch Engine (transformers): the same contract as the llama.cpp engine, on CPU.

It exists for the work llama.cpp cannot do — fine-tuning, pruning, distillation need
gradients and editable weights — and as a second, independent implementation to check
the first against. Generation keeps a KV cache across requests (a prompt that starts like
the last one only evaluates its new tokens), samples with llama.cpp's semantics
(:mod:`slmkit.runtime.torch.sampler`) and streams bytes through the shared
:class:`~slmkit.runtime.textstream.TextStream`, so stop strings and UTF-8 behave the same.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator, Sequence

from slmkit.core.engine import Capabilities, ModelInfo
from slmkit.core.errors import (
    ContextOverflowError,
    EngineClosedError,
    UnsupportedOperationError,
)
from slmkit.core.types import Chunk, GenerateRequest, TokenLogprob
from slmkit.runtime.hf_engine import HFEngineMixin, common_prefix, default_threads
from slmkit.runtime.torch import loader
from slmkit.runtime.torch.sampler import TorchSampler
from slmkit.runtime.torch.vocab import Vocab

QUANT_NAMES = {"float32": "F32", "bfloat16": "BF16", "float16": "F16"}




class TorchEngine(HFEngineMixin):
    """``core.Engine`` over a Hugging Face directory or a (dequantized) GGUF file.

    One request at a time (calls are serialised). ``n_threads`` sets torch's intra-op
    threads for the whole process (torch has one pool per process).
    """

    def __init__(self, path: str, *, name: str | None = None, n_ctx: int = 4096,
                 n_threads: int = 0, n_batch: int = 512, dtype: str = "float32",
                 n_gpu_layers: int = 0, verbose: bool = False,
                 quant: str | None = None) -> None:
        import torch

        del n_gpu_layers  # CPU only; accepted so callers can pass llama.cpp's options
        self.n_threads = n_threads or default_threads()
        torch.set_num_threads(self.n_threads)
        t0 = time.perf_counter()
        loaded = loader.load(path, dtype=dtype, verbose=verbose, quant=quant)
        self.load_seconds = time.perf_counter() - t0
        self._model, self._tok = loaded.model, loaded.tokenizer
        cfg = self._model.config
        n_vocab = self._model.get_output_embeddings().weight.shape[0]
        self.vocab = Vocab(self._tok, n_vocab)
        self._add_bos = loaded.add_bos
        self._bos = self._tok.bos_token_id
        self._eog = self.vocab.eog_ids(self._declared_eos(cfg))
        self.n_ctx_train = int(getattr(cfg, "max_position_embeddings", 0) or n_ctx)
        self.n_ctx = min(n_ctx, self.n_ctx_train) if n_ctx > 0 else self.n_ctx_train
        self.n_batch = max(1, n_batch)
        self.source_quantization = loaded.quantization
        self.quant_report = loaded.quant  # torchao QuantReport, or None when float
        self._lock = threading.Lock()
        self._cache = None
        self._kv: list[int] = []  # tokens whose keys/values sit in self._cache
        self._closed = False
        self.info = self._describe(name or os.path.basename(os.path.normpath(path)), path,
                                   loaded, dtype)

    def _declared_eos(self, cfg) -> list[int]:
        ids: list = []
        for source in (cfg, getattr(self._model, "generation_config", None)):
            value = getattr(source, "eos_token_id", None) if source is not None else None
            ids += value if isinstance(value, (list, tuple)) else [value]
        return ids + [self._tok.eos_token_id]

    def _describe(self, name: str, path: str, loaded, dtype: str) -> ModelInfo:
        params = sum(p.numel() for p in self._model.parameters())
        if loaded.quant is not None:  # torchao tensors: count packed data + scales
            from slmkit.runtime.torch.quantize import weight_bytes

            size, quant = weight_bytes(self._model), loaded.quant.recipe.label
        else:
            size = sum(p.numel() * p.element_size() for p in self._model.parameters())
            quant = QUANT_NAMES[dtype]
        return ModelInfo(
            name=name, path=path, architecture=loaded.architecture, n_params=params,
            n_vocab=self.vocab.n_vocab, n_ctx=self.n_ctx, n_ctx_train=self.n_ctx_train,
            n_embd=int(getattr(self._model.config, "hidden_size", 0)),
            quantization=quant, size_bytes=size,
            chat_template=loaded.chat_template,
            capabilities=Capabilities(embed=True, grammar=False, max_sequences=1),
        )

    # ---- generation ------------------------------------------------------------------
    def generate(self, request: GenerateRequest) -> Iterator[Chunk]:
        self._check_open()
        request.validate()
        if request.grammar is not None or request.json_schema is not None:
            raise UnsupportedOperationError("the torch engine cannot constrain output with a "
                                            "grammar or JSON schema",
                                            hint="use the llamacpp engine for constrained output")
        tokens = self._fit_context(self.prompt_tokens(request), request)
        return self._stream(request, tokens, TorchSampler(request.sampling))

    def _step_logprobs(self, row, token: int, n_top: int | None):
        if n_top is None:
            return None
        import torch

        logp = torch.log_softmax(row.double(), dim=0)
        return (self._token_logprob(token, logp, n_top),)

    def _token_logprob(self, token: int, logp, n_top: int) -> TokenLogprob:
        import torch

        top: tuple[TokenLogprob, ...] = ()
        if n_top > 0:
            vals, ids = torch.topk(logp, min(n_top, logp.numel()))
            top = tuple(TokenLogprob(int(i), self.vocab.text(int(i)), float(v))
                        for v, i in zip(vals, ids))
        return TokenLogprob(token, self.vocab.text(token), float(logp[token]), top)

    # ---- the KV cache ----------------------------------------------------------------
    def _new_cache(self):
        from transformers import DynamicCache

        return DynamicCache(config=self._model.config)

    def _reset_cache(self) -> None:
        self._cache = None
        self._kv.clear()

    def _reuse_prefix(self, tokens: Sequence[int], limit: int) -> int:
        """Keep at most ``limit`` cached tokens shared with ``tokens``; returns how many."""
        keep = max(0, min(common_prefix(self._kv, tokens), limit))
        if self._cache is None:
            self._cache, keep = self._new_cache(), 0
        elif keep < len(self._kv):
            if keep > 0 and self._cache.is_croppable:
                self._cache.crop(keep - len(self._kv))
            else:
                self._cache, keep = self._new_cache(), 0
        del self._kv[keep:]
        return keep

    def _feed(self, tokens: Sequence[int], *, n_logits: int):
        """Run ``tokens`` through the model after the cached ones, in ``n_batch`` pieces;
        returns the logits of the last ``n_logits`` of them, float32 [n_logits, n_vocab]."""
        import torch

        rows = []
        with torch.inference_mode():
            rows = self._feed_pieces(tokens, n_logits)
        return torch.cat(rows) if rows else torch.empty(0, self.vocab.n_vocab)

    def _feed_pieces(self, tokens: Sequence[int], n_logits: int) -> list:
        import torch

        rows = []
        for lo in range(0, len(tokens), self.n_batch):
            piece = list(tokens[lo:lo + self.n_batch])
            after = len(tokens) - lo - len(piece)
            want = min(len(piece), max(0, n_logits - after))
            out = self._model(input_ids=torch.tensor([piece]), cache=self._cache,
                              use_cache=True, logits_to_keep=max(want, 1))
            self._cache = out.cache
            self._kv.extend(piece)
            if want:
                rows.append(out.logits[0, -want:].float())
        return rows

    # ---- scoring ---------------------------------------------------------------------
    def _score(self, tokens: Sequence[int], first: int):
        """Logits of positions ``first…len(tokens)-1`` (row j predicts the token after
        ``tokens[:first+j+1]``), as a float32 tensor; reuses a cached prefix."""
        tokens = list(tokens)
        if len(tokens) > self.n_ctx:
            raise ContextOverflowError(len(tokens), self.n_ctx)
        if not 0 <= first < len(tokens):
            raise ValueError(f"first must be in [0, {len(tokens)}), got {first}")
        with self._lock:
            try:
                cached = self._reuse_prefix(tokens, first)
                return self._feed(tokens[cached:], n_logits=len(tokens) - first)
            except BaseException:
                self._reset_cache()
                raise

    def logits(self, tokens: Sequence[int], *, first: int = 0):
        """Raw next-token logits for positions ``first…len(tokens)-1`` as a float32 numpy
        array ``[len(tokens) - first, n_vocab]``; row ``j`` is the distribution of the
        token that follows ``tokens[:first + j + 1]``."""
        self._check_open()
        return self._score(tokens, first).numpy()

    def token_logprobs(self, tokens: Sequence[int], *, top: int = 0) -> list[TokenLogprob]:
        """Entry i is log p(tokens[i+1] | tokens[:i+1])."""
        import torch

        self._check_open()
        tokens = list(tokens)
        if len(tokens) < 2:
            if len(tokens) > self.n_ctx:
                raise ContextOverflowError(len(tokens), self.n_ctx)
            return []
        rows = self._score(tokens, 0)
        logp = torch.log_softmax(rows[:-1].double(), dim=-1)
        return [self._token_logprob(tokens[i + 1], logp[i], top) for i in range(len(tokens) - 1)]

    # ---- embeddings ------------------------------------------------------------------
    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Mean-pooled, L2-normalised final hidden states (one vector per text)."""
        import torch

        self._check_open()
        decoder = self._model.get_decoder()
        out = []
        with self._lock, torch.inference_mode():
            for text in texts:
                ids = self.tokenize(text)[: self.n_ctx] or [self._bos or 0]
                hidden = decoder(input_ids=torch.tensor([ids])).last_hidden_state[0]
                v = hidden.float().mean(dim=0)
                out.append((v / v.norm().clamp_min(1e-12)).tolist())
        return out

    # ---- lifecycle -------------------------------------------------------------------
    def _check_open(self) -> None:
        if self._closed:
            raise EngineClosedError(f"engine for {self.info.name} is closed")

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._cache = None
                self._kv.clear()
                self._model = None

    def __enter__(self) -> TorchEngine:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
