"""The ONNX Runtime Engine: the same contract as the llama.cpp and torch engines, on a
directory exported by onnxruntime-genai's model builder (``slm convert MODEL --to onnx``).

ONNX Runtime GenAI runs the graph and owns the KV cache (``append_tokens`` feeds tokens,
``rewind_to`` drops them, so a prompt that starts like the last one only evaluates its
new tokens). Sampling stays ours (:class:`~slmkit.runtime.onnx.sampler.NumpySampler`,
llama.cpp's semantics), and so does tokenization: the Hugging Face tokenizer saved in the
directory, rendered to bytes by the torch engine's :class:`~slmkit.runtime.torch.vocab.Vocab`,
so all engines see the same ids and stream the same text. Scoring reads the logits of
every fed position (``get_output("logits")``), so perplexity and KL-divergence work.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Self

import numpy as np

from slmkit.core.engine import Capabilities, ModelInfo
from slmkit.core.errors import (
    ContextOverflowError,
    EngineClosedError,
    InvalidModelFileError,
    SlmError,
    UnsupportedOperationError,
)
from slmkit.core.types import Chunk, GenerateRequest, TokenLogprob
from slmkit.runtime.hf_engine import HFEngineMixin, common_prefix, default_threads
from slmkit.runtime.onnx.sampler import NumpySampler

GENAI_CONFIG = "genai_config.json"
SIDECAR = "slmkit-onnx.json"  # written by slmkit.convert.to_onnx
INSTALL_HINT = "install the ONNX extra: pip install 'slmkit[compress]'"



def _log_softmax(rows: np.ndarray) -> np.ndarray:
    x = rows.astype(np.float64)
    x -= x.max(axis=-1, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=-1, keepdims=True))



def read_genai_config(path: Path) -> dict:
    """``genai_config.json`` of an exported directory, with clear errors for anything else."""
    if not path.exists():
        raise InvalidModelFileError(f"no such ONNX model directory: {path}",
                                    hint="export one with `slm convert MODEL --to onnx`")
    config = path / GENAI_CONFIG
    if not path.is_dir() or not config.is_file():
        raise InvalidModelFileError(
            f"{path} is not an ONNX Runtime GenAI model directory (no {GENAI_CONFIG})",
            hint="export one with `slm convert MODEL --to onnx`")
    try:
        data = json.loads(config.read_text(encoding="utf-8"))
    except ValueError as err:
        raise InvalidModelFileError(f"{config} is not valid JSON: {err}") from err
    found = _custom_ops(data)
    if found:
        raise InvalidModelFileError(
            f"{config} asks ONNX Runtime to load a native library ({found}: "
            f"{_custom_ops_value(data, found)!r}); refusing: a model directory must not run "
            "code of its own",
            hint="remove that setting; models exported by `slm convert --to onnx` never need "
                 "custom operators")
    return data


_CUSTOM_OPS_KEYS = ("custom_ops_library", "custom_ops_libraries", "register_custom_ops_library")


def _custom_ops(node, where: str = "") -> str | None:
    """The path (``a.b.key``) of the first setting that names a custom-ops library."""
    items = node.items() if isinstance(node, dict) else (
        enumerate(node) if isinstance(node, list) else ())
    for key, value in items:
        here = f"{where}.{key}" if where else str(key)
        if isinstance(key, str) and key.lower() in _CUSTOM_OPS_KEYS:
            return here
        found = _custom_ops(value, here)
        if found:
            return found
    return None


def _custom_ops_value(data, path: str):
    for part in path.split("."):
        data = data[int(part)] if isinstance(data, list) else data[part]
    return data


class OnnxEngine(HFEngineMixin):
    """``core.Engine`` over an ONNX Runtime GenAI directory (CPU execution provider).

    One request at a time (calls are serialised). ``n_ctx`` caps the generator's
    ``max_length`` (KV buffer) at the model's trained context.
    """

    def __init__(self, path: str, *, name: str | None = None, n_ctx: int = 4096,
                 n_threads: int = 0, n_batch: int = 512, n_gpu_layers: int = 0,
                 verbose: bool = False) -> None:
        del n_gpu_layers  # CPU only; accepted so callers can pass llama.cpp's options
        root = Path(path).expanduser()
        self._config = read_genai_config(root)
        model_cfg = self._config.get("model", {})
        self.n_threads = n_threads or default_threads()
        t0 = time.perf_counter()
        self._og = self._import_genai()
        self._model = self._load_model(root, verbose)
        self._tok, self.vocab, self._add_bos = self._load_tokenizer(root, model_cfg)
        self.load_seconds = time.perf_counter() - t0
        self._bos = self._tok.bos_token_id
        self._eog = self.vocab.eog_ids(self._declared_eos(model_cfg))
        self.n_ctx_train = int(model_cfg.get("context_length") or n_ctx)
        self.n_ctx = min(n_ctx, self.n_ctx_train) if n_ctx > 0 else self.n_ctx_train
        self.n_batch = max(1, n_batch)
        self._lock = threading.Lock()
        self._gen = None
        self._kv: list[int] = []  # tokens whose keys/values the generator holds
        self._closed = False
        self.info = self._describe(name or os.path.basename(os.path.normpath(str(root))),
                                   root, model_cfg)

    # ---- loading ---------------------------------------------------------------------
    @staticmethod
    def _import_genai():
        try:
            import onnxruntime_genai as og
        except ImportError as err:
            raise SlmError(f"onnxruntime-genai is not installed ({err})",
                           hint=INSTALL_HINT) from err
        return og

    def _load_model(self, root: Path, verbose: bool):
        og = self._og
        try:
            config = og.Config(str(root))
            config.clear_providers()  # the CPU provider
            options = {"intra_op_num_threads": self.n_threads, "inter_op_num_threads": 1}
            if not verbose:
                options["log_severity_level"] = 3
            config.overlay(json.dumps({"model": {"decoder": {"session_options": options}}}))
            return og.Model(config)
        except Exception as err:  # og raises RuntimeError for every kind of load failure
            raise InvalidModelFileError(f"ONNX Runtime GenAI could not load {root}: {err}",
                                        hint="re-export it with `slm convert MODEL --to onnx "
                                             "--force`") from err

    def _load_tokenizer(self, root: Path, model_cfg: dict):
        from transformers import AutoTokenizer
        from transformers.utils import logging as tf_logging

        from slmkit.runtime.torch.vocab import Vocab

        tf_logging.set_verbosity_error()
        try:
            tok = AutoTokenizer.from_pretrained(str(root))
        except (OSError, ValueError, KeyError) as err:
            raise InvalidModelFileError(f"no usable tokenizer in {root}: {err}",
                                        hint="the directory needs tokenizer.json and "
                                             "tokenizer_config.json") from err
        n_vocab = int(model_cfg.get("vocab_size") or len(tok))
        probe = tok("a", add_special_tokens=True).input_ids
        bare = tok("a", add_special_tokens=False).input_ids
        add_bos = (tok.bos_token_id is not None and len(probe) > len(bare)
                   and probe[0] == tok.bos_token_id)
        return tok, Vocab(tok, n_vocab), add_bos

    def _declared_eos(self, model_cfg: dict) -> list[int]:
        value = model_cfg.get("eos_token_id")
        ids = list(value) if isinstance(value, (list, tuple)) else [value]
        return ids + [self._tok.eos_token_id]

    def _describe(self, name: str, root: Path, model_cfg: dict) -> ModelInfo:
        sidecar = _read_json(root / SIDECAR)
        decoder = model_cfg.get("decoder", {})
        files = [p for p in root.iterdir() if p.is_file() and ".onnx" in p.name]
        return ModelInfo(
            name=name, path=str(root), architecture=str(model_cfg.get("type", "")),
            n_params=int(sidecar.get("n_params", 0)), n_vocab=self.vocab.n_vocab,
            n_ctx=self.n_ctx, n_ctx_train=self.n_ctx_train,
            n_embd=int(decoder.get("hidden_size", 0)),
            quantization=f"onnx-{sidecar.get('precision') or _guess_precision(root, decoder)}",
            size_bytes=sum(p.stat().st_size for p in files),
            chat_template=getattr(self._tok, "chat_template", None),
            capabilities=Capabilities(embed=False, grammar=False, max_sequences=1),
        )

    # ---- generation ------------------------------------------------------------------
    def generate(self, request: GenerateRequest) -> Iterator[Chunk]:
        self._check_open()
        request.validate()
        if request.grammar is not None or request.json_schema is not None:
            raise UnsupportedOperationError("the onnx engine cannot constrain output with a "
                                            "grammar or JSON schema",
                                            hint="use the llamacpp engine for constrained output")
        if request.adapter is not None:
            raise UnsupportedOperationError("the onnx engine has no LoRA adapters",
                                            hint="merge the adapter, then export to ONNX")
        tokens = self._fit_context(self.prompt_tokens(request), request)
        self._check_ids(tokens)
        return self._stream(request, tokens, NumpySampler(request.sampling))

    def _check_ids(self, tokens: Sequence[int]) -> None:
        bad = [t for t in tokens if not 0 <= int(t) < self.vocab.n_vocab]
        if bad:
            raise ValueError(f"token id {bad[0]} is outside the vocabulary "
                             f"(0…{self.vocab.n_vocab - 1})")

    def _step_logprobs(self, row: np.ndarray, token: int, n_top: int | None):
        if n_top is None:
            return None
        return (self._token_logprob(token, _log_softmax(row), n_top),)

    def _token_logprob(self, token: int, logp: np.ndarray, n_top: int) -> TokenLogprob:
        top: tuple[TokenLogprob, ...] = ()
        if n_top > 0:
            k = min(n_top, logp.size)
            ids = np.argpartition(-logp, k - 1)[:k]
            ids = ids[np.argsort(-logp[ids], kind="stable")]
            top = tuple(TokenLogprob(int(i), self.vocab.text(int(i)), float(logp[i]))
                        for i in ids)
        return TokenLogprob(token, self.vocab.text(token), float(logp[token]), top)

    # ---- the generator (KV cache) ----------------------------------------------------
    def _new_generator(self):
        og = self._og
        params = og.GeneratorParams(self._model)
        params.set_search_options(max_length=self.n_ctx, do_sample=False)  # we sample
        return og.Generator(self._model, params)

    def _reset_cache(self) -> None:
        self._gen = None
        self._kv.clear()

    def _reuse_prefix(self, tokens: Sequence[int], limit: int) -> int:
        """Keep at most ``limit`` cached tokens shared with ``tokens``; returns how many."""
        keep = max(0, min(common_prefix(self._kv, tokens), limit))
        if self._gen is None or keep == 0:
            self._gen, keep = self._new_generator(), 0
        elif keep < len(self._kv):
            self._gen.rewind_to(keep)
        del self._kv[keep:]
        return keep

    def _feed(self, tokens: Sequence[int], *, n_logits: int) -> np.ndarray:
        """Run ``tokens`` after the cached ones, in ``n_batch`` pieces; returns the logits
        of the last ``n_logits`` of them, float32 ``[n_logits, n_vocab]``."""
        rows = []
        for lo in range(0, len(tokens), self.n_batch):
            piece = [int(t) for t in tokens[lo:lo + self.n_batch]]
            after = len(tokens) - lo - len(piece)
            want = min(len(piece), max(0, n_logits - after))
            self._gen.append_tokens(np.asarray(piece, dtype=np.int32))
            self._kv.extend(piece)
            if want:
                logits = self._gen.get_output("logits")  # [1, len(piece), n_vocab]
                if logits.shape[1] < want:
                    raise SlmError(f"ONNX Runtime GenAI returned logits for {logits.shape[1]} "
                                   f"of {len(piece)} positions")
                rows.append(np.asarray(logits[0, -want:], dtype=np.float32))
        return np.concatenate(rows) if rows else np.empty((0, self.vocab.n_vocab), np.float32)

    # ---- scoring ---------------------------------------------------------------------
    def _score(self, tokens: Sequence[int], first: int) -> np.ndarray:
        tokens = [int(t) for t in tokens]
        if len(tokens) > self.n_ctx:
            raise ContextOverflowError(len(tokens), self.n_ctx)
        if not 0 <= first < len(tokens):
            raise ValueError(f"first must be in [0, {len(tokens)}), got {first}")
        self._check_ids(tokens)
        with self._lock:
            try:
                cached = self._reuse_prefix(tokens, first)
                return self._feed(tokens[cached:], n_logits=len(tokens) - first)
            except BaseException:
                self._reset_cache()
                raise

    def logits(self, tokens: Sequence[int], *, first: int = 0) -> np.ndarray:
        """Raw next-token logits for positions ``first…len(tokens)-1``, float32
        ``[len(tokens) - first, n_vocab]``; row ``j`` follows ``tokens[:first + j + 1]``."""
        self._check_open()
        return self._score(tokens, first)

    def token_logprobs(self, tokens: Sequence[int], *, top: int = 0) -> list[TokenLogprob]:
        """Entry i is log p(tokens[i+1] | tokens[:i+1])."""
        self._check_open()
        tokens = list(tokens)
        if len(tokens) < 2:
            if len(tokens) > self.n_ctx:
                raise ContextOverflowError(len(tokens), self.n_ctx)
            return []
        logp = _log_softmax(self._score(tokens, 0)[:-1])
        return [self._token_logprob(tokens[i + 1], logp[i], top) for i in range(len(tokens) - 1)]

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        raise UnsupportedOperationError("the onnx engine does not compute embeddings",
                                        hint="use the torch or llamacpp engine, or an embedder")

    # ---- lifecycle -------------------------------------------------------------------
    def _check_open(self) -> None:
        if self._closed:
            raise EngineClosedError(f"engine for {self.info.name} is closed")

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._reset_cache()
                self._model = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _guess_precision(root: Path, decoder: dict) -> str:
    """int4/int8 when the graph has MatMulNBits nodes, else fp32 (for directories not
    exported by slmkit; the op name is plain text in the protobuf)."""
    graph = root / decoder.get("filename", "model.onnx")
    try:
        if graph.stat().st_size > 64 * 2**20:
            return "fp32"
        data = graph.read_bytes()
    except OSError:
        return "unknown"
    if b"MatMulNBits" not in data:
        return "fp32"
    return "int8" if b"weight_Q8" in data else "int4"
