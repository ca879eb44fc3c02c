"""The ONNX Runtime Engine: the same contract as the llama.cpp and torch engines, on a
directory exported by onnxruntime-genai's model builder (``slm convert MODEL --to onnx``).

This module is only the forward pass (:class:`OnnxForward`): ONNX Runtime GenAI runs the
graph and owns the KV cache (``append_tokens`` feeds tokens, ``rewind_to`` drops them, so
a prompt that starts like the last one only evaluates its new tokens). The decode loop,
sampling (llama.cpp's semantics), streaming and scoring are
:class:`~slmkit.runtime.pyloop.PyLoopEngine`'s, shared with the torch backend, and so is
tokenization: the Hugging Face tokenizer saved in the directory, rendered to bytes by
:class:`~slmkit.runtime.hfvocab.Vocab`, so all engines see the same ids and stream the same
text. Scoring reads the logits of every fed position (``get_output("logits")``), so
perplexity and KL-divergence work.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from slmkit.core.engine import Capabilities, ModelInfo
from slmkit.core.errors import InvalidModelFileError, SlmError
from slmkit.runtime.hfvocab import HFText, adds_bos
from slmkit.runtime.pyloop import PyLoopEngine
from slmkit.util.threads import default_threads

GENAI_CONFIG = "genai_config.json"
SIDECAR = "slmkit-onnx.json"  # written by slmkit.convert.to_onnx
INSTALL_HINT = "install the ONNX extra: pip install 'slmkit[compress]'"


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


class OnnxForward:
    """An ONNX Runtime GenAI model and its generator (the KV cache); see
    ``pyloop.ForwardPass``."""

    def __init__(self, root: Path, config: dict, *, n_ctx: int, n_threads: int,
                 verbose: bool) -> None:
        self.root, self.config = root, config
        self.model_cfg = config.get("model", {})
        self.n_ctx_train = int(self.model_cfg.get("context_length") or n_ctx)
        self.n_ctx = min(n_ctx, self.n_ctx_train) if n_ctx > 0 else self.n_ctx_train
        self._og = _import_genai()
        self._model = self._load_model(n_threads, verbose)
        self.tokenizer = _load_tokenizer(root)
        n_vocab = int(self.model_cfg.get("vocab_size") or len(self.tokenizer))
        value = self.model_cfg.get("eos_token_id")
        self.text = HFText(self.tokenizer, n_vocab, add_bos=adds_bos(self.tokenizer),
                           declared_eos=list(value) if isinstance(value, (list, tuple))
                           else [value])
        self._gen = None

    def _load_model(self, n_threads: int, verbose: bool):
        og = self._og
        try:
            config = og.Config(str(self.root))
            config.clear_providers()  # the CPU provider
            options = {"intra_op_num_threads": n_threads, "inter_op_num_threads": 1}
            if not verbose:
                options["log_severity_level"] = 3
            config.overlay(json.dumps({"model": {"decoder": {"session_options": options}}}))
            return og.Model(config)
        except Exception as err:  # og raises RuntimeError for every kind of load failure
            raise InvalidModelFileError(f"ONNX Runtime GenAI could not load {self.root}: {err}",
                                        hint="re-export it with `slm convert MODEL --to onnx "
                                             "--force`") from err

    # ---- the forward pass ------------------------------------------------------------
    def feed(self, tokens: Sequence[int], *, n_logits: int) -> np.ndarray:
        if self._gen is None:
            params = self._og.GeneratorParams(self._model)
            params.set_search_options(max_length=self.n_ctx, do_sample=False)  # we sample
            self._gen = self._og.Generator(self._model, params)
        self._gen.append_tokens(np.asarray(tokens, dtype=np.int32))
        if not n_logits:
            return np.empty((0, self.text.n_vocab), np.float32)
        logits = self._gen.get_output("logits")  # [1, len(tokens), n_vocab]
        if logits.shape[1] < n_logits:
            raise SlmError(f"ONNX Runtime GenAI returned logits for {logits.shape[1]} "
                           f"of {len(tokens)} positions")
        return np.asarray(logits[0, -n_logits:], dtype=np.float32)

    def truncate(self, keep: int) -> bool:
        if self._gen is None:
            return False
        self._gen.rewind_to(keep)
        return True

    def reset(self) -> None:
        self._gen = None

    def embed(self, tokens: Sequence[int]) -> np.ndarray:
        raise AssertionError("the onnx engine declares no embeddings")

    def close(self) -> None:
        self._gen = None
        self._model = None

    def describe(self, name: str) -> ModelInfo:
        root, model_cfg = self.root, self.model_cfg
        sidecar = _read_json(root / SIDECAR)
        decoder = model_cfg.get("decoder", {})
        files = [p for p in root.iterdir() if p.is_file() and ".onnx" in p.name]
        return ModelInfo(
            name=name, path=str(root), architecture=str(model_cfg.get("type", "")),
            n_params=int(sidecar.get("n_params", 0)), n_vocab=self.text.n_vocab,
            n_ctx=self.n_ctx, n_ctx_train=self.n_ctx_train,
            n_embd=int(decoder.get("hidden_size", 0)),
            quantization=f"onnx-{sidecar.get('precision') or _guess_precision(root, decoder)}",
            size_bytes=sum(p.stat().st_size for p in files),
            chat_template=self.tokenizer.chat_template,
            capabilities=Capabilities(logits=True, max_sequences=1),
        )


def open_engine(path: str, *, name: str | None = None, n_ctx: int = 4096, n_threads: int = 0,
                n_batch: int = 512, n_gpu_layers: int = 0, verbose: bool = False
                ) -> PyLoopEngine:
    """``core.Engine`` over an ONNX Runtime GenAI directory (CPU execution provider).

    One request at a time (calls are serialised). ``n_ctx`` caps the generator's
    ``max_length`` (KV buffer) at the model's trained context.
    """
    del n_gpu_layers  # CPU only; accepted so callers can pass llama.cpp's options
    root = Path(path).expanduser()
    config = read_genai_config(root)
    threads = n_threads or default_threads()
    t0 = time.perf_counter()
    forward = OnnxForward(root, config, n_ctx=n_ctx, n_threads=threads, verbose=verbose)
    info = forward.describe(name or os.path.basename(os.path.normpath(str(root))))
    return PyLoopEngine(forward, info, backend="onnx", n_batch=n_batch, n_threads=threads,
                        load_seconds=time.perf_counter() - t0)


def _import_genai():
    try:
        import onnxruntime_genai as og
    except ImportError as err:
        raise SlmError(f"onnxruntime-genai is not installed ({err})", hint=INSTALL_HINT) from err
    return og


def _load_tokenizer(root: Path):
    from transformers import AutoTokenizer
    from transformers.utils import logging as tf_logging

    tf_logging.set_verbosity_error()
    try:
        return AutoTokenizer.from_pretrained(str(root))
    except (OSError, ValueError, KeyError) as err:
        raise InvalidModelFileError(f"no usable tokenizer in {root}: {err}",
                                    hint="the directory needs tokenizer.json and "
                                         "tokenizer_config.json") from err


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
