"""Will this model run here? A memory estimate per backend, checked against available RAM.

- ``llamacpp`` (a GGUF file): the file (its weights, mmapped) + an f16 KV cache for every
  sequence + llama.cpp's compute buffer, with the shape read from the GGUF header (the
  catalog's arithmetic), so it works for any file, catalogued or not.
- ``torch`` (a Hugging Face directory, or a GGUF file dequantized by transformers): the
  weights at the load dtype (float32 unless asked: a bfloat16 checkpoint doubles, a GGUF
  becomes 4 bytes a parameter; torchao-stored weights count as stored) + a KV cache at that
  dtype + the compute buffer + what torch and transformers take once imported.
- ``onnx`` (an ONNX Runtime GenAI directory): the ``.onnx``/``.onnx.data`` files + a
  float32 KV cache + the compute buffer + ONNX Runtime's own allowance.

The shape for the KV cache (layers, KV heads, head size, trained context) comes from the
GGUF header, ``config.json`` or ``genai_config.json``; ``n_ctx`` is capped at the trained
context, as every engine does.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from slmkit.core.errors import InvalidModelFileError, ModelTooLargeError
from slmkit.models import catalog
from slmkit.models.gguf_file import GGUFInfo, read_gguf
from slmkit.models.hardware import Hardware, probe
from slmkit.runtime import BATCHING_BACKENDS
from slmkit.runtime.detect import HF_CONFIG, ONNX_CONFIG, detect_backend, hf_weight_files

GPU_BACKENDS = frozenset({"vllm"})  # weights and KV cache live in GPU memory, not RAM

GiB = 1024**3
MiB = 1024**2
SKIP_ENV = "SLM_SKIP_MEMORY_CHECK"
DTYPE_BYTES = {"float32": 4, "bfloat16": 2, "float16": 2}
# The runtime itself: a process running a tiny model peaks at ~460 MiB on either engine
# (measured with torch 2.13: the onnx engine's tokenizer comes from transformers, which
# imports torch). llama.cpp's smaller allowance is catalog.RUNTIME_BYTES, in every estimate.
RUNTIME_ALLOWANCE = {"torch": 448 * MiB, "onnx": 448 * MiB}
QUANT_RECIPE = "slmkit-quant.json"  # runtime/torch/quantize.py: torchao recipe of a directory


@dataclass(frozen=True)
class FileEstimate:
    """Bytes to run one model: ``kv_cache`` covers every sequence (``n_parallel``)."""

    weights: int
    kv_cache: int
    overhead: int
    n_ctx: int
    backend: str = "llamacpp"
    n_parallel: int = 1

    @property
    def total(self) -> int:
        return self.weights + self.kv_cache + self.overhead


def estimate_file(info: GGUFInfo, n_ctx: int) -> FileEstimate:
    """Memory to run a GGUF file on llama.cpp with one ``n_ctx`` context (capped at its
    trained length)."""
    n_ctx = min(n_ctx, info.context_length or n_ctx)
    shape = _gguf_shape(info)
    return FileEstimate(weights=info.file_size, kv_cache=catalog.kv_cache_bytes(shape, n_ctx),
                        overhead=catalog.overhead_bytes(shape, n_ctx), n_ctx=n_ctx)


def _estimate_gguf(path: str, n_ctx: int) -> FileEstimate:
    """:func:`estimate_file` through a small cache keyed by the file's path, size and
    mtime: walking a GGUF header (a tokenizer's 150k strings) costs ~0.3 s of every cold
    start otherwise."""
    from slmkit.settings import get_settings

    st = os.stat(path)
    key = f"{os.path.realpath(path)}:{st.st_size}:{st.st_mtime_ns}"
    cache = Path(get_settings().cache_home) / "gguf-shapes.json"
    try:
        known = json.loads(cache.read_text())
    except (OSError, ValueError):
        known = {}
    hit = known.get(key)
    if not isinstance(hit, dict):
        info = read_gguf(path)
        s = _gguf_shape(info)
        hit = {"name": s.name, "n_layers": s.n_layers, "n_heads": s.n_heads,
               "n_kv_heads": s.n_kv_heads, "head_dim": s.head_dim, "vocab_size": s.vocab_size,
               "context_length": s.context_length, "params": s.params,
               "file_size": info.file_size}
        known[key] = hit
        _write_json(cache, known)
    kw = dict(hit)
    size, name = kw.pop("file_size"), kw.pop("name")
    shape = _shape(name, **kw)
    n_ctx = min(n_ctx, shape.context_length or n_ctx)
    return FileEstimate(weights=size, kv_cache=catalog.kv_cache_bytes(shape, n_ctx),
                        overhead=catalog.overhead_bytes(shape, n_ctx), n_ctx=n_ctx)


def _write_json(path: Path, data: dict) -> None:
    """Atomically (a cache: failing to write it is not an error)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data))
        os.replace(tmp, path)
    except OSError:
        pass


def estimate(path: str, *, n_ctx: int, backend: str | None = None, n_parallel: int = 1,
             dtype: str = "float32") -> FileEstimate:
    """Memory to run ``path`` on ``backend`` (detected when None) with ``n_parallel``
    sequences of ``n_ctx`` tokens; only a batching backend (llama.cpp) holds more than one.
    ``dtype`` is the torch engine's load dtype."""
    backend = backend or detect_backend(path)
    if backend == "llamacpp":
        one = _estimate_gguf(path, n_ctx)
        return FileEstimate(one.weights, one.kv_cache * n_parallel, one.overhead, one.n_ctx,
                            backend, n_parallel)
    if backend == "torch":
        return _estimate_torch(Path(path), n_ctx, dtype)
    if backend in GPU_BACKENDS:  # vLLM loads 16-bit weights onto the GPU
        return _estimate_torch(Path(path), n_ctx, "bfloat16")
    if backend == "onnx":
        return _estimate_onnx(Path(path), n_ctx)
    raise ValueError(f"no memory estimate for backend {backend!r}")


def check_fits(path: str, *, n_ctx: int, n_parallel: int = 1, backend: str | None = None,
               dtype: str = "float32", hardware: Hardware | None = None) -> FileEstimate:
    """The estimate, or ``ModelTooLargeError`` (the numbers + what to try) when the model
    cannot fit in available RAM. ``SLM_SKIP_MEMORY_CHECK=1`` skips the check."""
    backend = backend or detect_backend(path)
    if backend not in BATCHING_BACKENDS:
        n_parallel = 1
    est = estimate(path, n_ctx=n_ctx, backend=backend, n_parallel=n_parallel, dtype=dtype)
    from slmkit.settings import get_settings

    if get_settings().skip_memory_check or backend in GPU_BACKENDS:
        return est  # GPU memory is vLLM's to manage (its gpu_memory_utilization)
    hw = hardware or probe()
    if est.total <= hw.available_ram:
        return est
    seqs = f" × {est.n_parallel} sequences" if est.n_parallel > 1 else ""
    raise ModelTooLargeError(
        f"{os.path.basename(os.path.normpath(path))} on {backend} needs about "
        f"{est.total / GiB:.1f} GiB (weights {est.weights / GiB:.1f} + KV cache "
        f"{est.kv_cache / GiB:.1f} at ctx {est.n_ctx}{seqs} + buffers "
        f"{est.overhead / GiB:.1f}) but only {hw.available_ram / GiB:.1f} GiB of RAM is "
        "available", hint=_smaller_hint(hw, n_ctx, backend))


# ---- per backend -------------------------------------------------------------------------

def _estimate_torch(path: Path, n_ctx: int, dtype: str) -> FileEstimate:
    per_value = DTYPE_BYTES.get(dtype, 4)
    if path.is_file():  # a GGUF, dequantized by transformers
        info = read_gguf(path)
        shape = _gguf_shape(info)
        weights = info.parameter_count * per_value or info.file_size * 8
    else:
        config = _read_json(path / HF_CONFIG)
        shape = _hf_shape(config, path.name)
        weights = _torch_weight_bytes(path, config, per_value)
    return _finish(shape, weights, n_ctx, per_value, "torch")


def _torch_weight_bytes(path: Path, config: dict, per_value: int) -> int:
    """On-disk weight bytes scaled to the load dtype (stored torchao weights stay as they
    are; a float recipe quantizes after a full-precision load, so the peak is that)."""
    stored = sum(p.stat().st_size for p in hf_weight_files(path))
    recipe = _read_json(path / QUANT_RECIPE, missing_ok=True)
    if recipe.get("storage") == "torchao-safetensors":
        return stored
    text = _text_config(config)
    on_disk = DTYPE_BYTES.get(str(text.get("torch_dtype") or text.get("dtype") or ""))
    return stored * per_value // on_disk if on_disk else stored


def _estimate_onnx(path: Path, n_ctx: int) -> FileEstimate:
    model = _read_json(path / ONNX_CONFIG).get("model", {})
    decoder = model.get("decoder", {})
    n_heads = int(decoder.get("num_attention_heads") or 1)
    hidden = int(decoder.get("hidden_size") or 0)
    shape = _shape(path.name, n_layers=decoder.get("num_hidden_layers"), n_heads=n_heads,
                   n_kv_heads=decoder.get("num_key_value_heads") or n_heads,
                   head_dim=decoder.get("head_size") or hidden // n_heads,
                   vocab_size=model.get("vocab_size"), context_length=model.get("context_length"))
    weights = sum(p.stat().st_size for p in path.iterdir() if p.is_file() and ".onnx" in p.name)
    return _finish(shape, weights, n_ctx, 4, "onnx")


def _finish(shape: catalog.CatalogEntry, weights: int, n_ctx: int, kv_bytes: int,
            backend: str) -> FileEstimate:
    n_ctx = min(n_ctx, shape.context_length or n_ctx)
    kv = 2 * shape.n_layers * n_ctx * shape.n_kv_heads * shape.head_dim * kv_bytes
    overhead = catalog.overhead_bytes(shape, n_ctx) + RUNTIME_ALLOWANCE.get(backend, 0)
    return FileEstimate(weights, kv, overhead, n_ctx, backend)


# ---- shapes --------------------------------------------------------------------------------

def _shape(name: str, *, n_layers, n_heads, n_kv_heads, head_dim, vocab_size,
           context_length, params: int = 0) -> catalog.CatalogEntry:
    """The catalog's entry type as a carrier for a model's shape (its arithmetic takes it)."""
    return catalog.CatalogEntry(
        name=name, family="", params=params, context_length=int(context_length or 0),
        licence="", n_layers=int(n_layers or 0), n_heads=int(n_heads or 1),
        n_kv_heads=int(n_kv_heads or n_heads or 1), head_dim=int(head_dim or 0),
        vocab_size=int(vocab_size or 0), use="")


def _gguf_shape(info: GGUFInfo) -> catalog.CatalogEntry:
    n_head = info.head_count or 1
    head_dim = (info.metadata.get(f"{info.architecture}.attention.key_length")
                or (info.embedding_length or 0) // n_head)
    return _shape(info.model_name or os.path.basename(info.path), n_layers=info.block_count,
                  n_heads=n_head, n_kv_heads=info.head_count_kv or n_head, head_dim=head_dim,
                  vocab_size=info.vocab_size, context_length=info.context_length,
                  params=info.parameter_count)


def _text_config(config: dict) -> dict:
    """A multimodal config keeps the language model's fields under ``text_config``."""
    return {**config, **config.get("text_config", {})}


def _hf_shape(config: dict, name: str) -> catalog.CatalogEntry:
    c = _text_config(config)
    n_heads = int(c.get("num_attention_heads") or c.get("n_head") or 1)
    hidden = int(c.get("hidden_size") or c.get("n_embd") or 0)
    return _shape(name, n_layers=c.get("num_hidden_layers") or c.get("n_layer"),
                  n_heads=n_heads, n_kv_heads=c.get("num_key_value_heads") or n_heads,
                  head_dim=c.get("head_dim") or hidden // n_heads,
                  vocab_size=c.get("vocab_size"),
                  context_length=c.get("max_position_embeddings") or c.get("n_positions"))


def _read_json(path: Path, *, missing_ok: bool = False) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        if missing_ok:
            return {}
        raise InvalidModelFileError(f"{path} is missing") from None
    except (OSError, ValueError) as err:
        raise InvalidModelFileError(f"cannot read {path}: {err}",
                                    hint="re-create the model directory") from err
    return data if isinstance(data, dict) else {}


# ---- what to try instead -------------------------------------------------------------------

def _smaller_hint(hw: Hardware, n_ctx: int, backend: str = "llamacpp") -> str:
    tips = ["a smaller --ctx"]
    if backend == "torch":
        tips += ["torchao int8/int4 weights (`slm quantize MODEL --engine torch --type int8`)",
                 ("the model as a GGUF on llama.cpp (`slm convert MODEL --to gguf`, then "
                  "`slm quantize` to Q4_K_M)")]
    elif backend == "onnx":
        tips.append("an int4 export (`slm convert MODEL --to onnx --type int4`)")
    else:
        tips.append("a smaller quantization (Q4_K_M or Q4_0)")
    fitting = catalog.survey(hw, quant="Q4_K_M", n_ctx=n_ctx, only_fitting=True)
    llms = sorted((c for c in fitting if c.entry.kind == "llm"),
                  key=lambda c: c.entry.params, reverse=True)
    names = ", ".join(c.entry.name for c in llms[:3])
    if names:
        tips.append(f"a smaller model that fits here at Q4_K_M: {names}")
    return "try " + "; or ".join(tips) + f" (set {SKIP_ENV}=1 to load anyway)"
