"""Hugging Face directory → GGUF, for every architecture in :mod:`slmkit.arch`.

Written with gguf-py's ``GGUFWriter``, whose stages are the file's layout — header, then
key/values, then tensor infos, then tensor data — and refuse to run out of order:
:func:`write_gguf` walks them explicitly. What differs per architecture — its GGUF name, the
hyper-parameter keys, tensor names, llama's q/k row permutation, Gemma's norm shift, the
settings llama.cpp cannot honour — comes from its :class:`~slmkit.arch.ArchSpec`; file
types and key names live in :mod:`slmkit.convert.constants`. ``q8_0`` is written as F32
first and quantized by llama.cpp itself (``llama_model_quantize``), so the result is
exactly what llama.cpp's own quantizer makes.
"""

from __future__ import annotations

import collections
import ctypes
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from slmkit import arch
from slmkit.arch import ArchSpec, UnsupportedModelError
from slmkit.arch.base import kv_heads, rope_params, tied_embeddings
from slmkit.convert import constants as C
from slmkit.convert.tokenizer import add_tokenizer
from slmkit.core.errors import InvalidModelFileError, SlmError

__all__ = ["UnsupportedModelError", "arch_spec", "hf_to_gguf", "permute_qk", "quantize"]


def hf_to_gguf(src_dir: str | Path, out_path: str | Path, *, out_type: str = "f32",
               overwrite: bool = False) -> Path:
    """Convert the Hugging Face directory ``src_dir`` into the GGUF file ``out_path``.

    ``out_type`` is ``f32``, ``f16`` (2-D weights in half precision, norms and biases F32)
    or ``q8_0``. Returns ``out_path``. Raises ``UnsupportedModelError`` for other
    architectures or settings llama.cpp would compute differently, and
    ``UnsupportedTokenizerError`` when no GGUF tokenizer can be made.
    """
    src, out = Path(src_dir), Path(out_path)
    if out_type not in C.OUT_TYPES:
        raise ValueError(f"--type must be one of {', '.join(C.OUT_TYPES)}, got {out_type!r}")
    if out.exists() and not overwrite:
        raise FileExistsError(f"{out} exists (pass overwrite=True / --force to replace it)")
    cfg = _config(src)
    spec = arch_spec(cfg)
    ftype, np_dtype = C.OUT_TYPES[out_type]
    target = out if np_dtype else out.with_name(out.name + ".f32.tmp")
    try:
        _convert(src, cfg, spec, target, ftype if np_dtype else 0, np_dtype or "float32")
        if np_dtype is None:
            quantize(target, out, ftype)
    finally:
        if target != out:
            target.unlink(missing_ok=True)
    return out


def _config(src: Path):
    from transformers import AutoConfig

    if not (src / "config.json").is_file():
        raise InvalidModelFileError(f"{src} has no config.json",
                                    hint="point at a Hugging Face model directory")
    return AutoConfig.from_pretrained(str(src))


def arch_spec(cfg) -> ArchSpec:
    """The architecture spec of the HF config ``cfg``; raises ``UnsupportedModelError``
    for a model type no spec claims or settings llama.cpp would compute differently."""
    spec = arch.for_hf(cfg.model_type, cfg.architectures, what="to GGUF")
    if spec.check_config is not None:
        spec.check_config(cfg)
    return spec


def _convert(src: Path, cfg, spec: ArchSpec, out: Path, ftype: int, dtype: str) -> None:
    import gguf

    writer = gguf.GGUFWriter(str(out), spec.gguf_arch)
    _add_parameters(writer, cfg, spec, ftype)
    n_vocab = int(cfg.vocab_size)
    add_tokenizer(writer, src, n_vocab)
    if "general.name" not in writer.kv_data[0]:  # the source GGUF's name, when carried over
        writer.add_name(src.resolve().name)
    for name, data in _tensors(src, cfg, spec):
        keep_f32 = data.ndim < 2 or dtype == "float32"
        writer.add_tensor(name, data.astype(np.float32 if keep_f32 else dtype, copy=False))
    write_gguf(writer)


def write_gguf(writer) -> None:
    """The GGUF layout, stage by stage (GGUFWriter raises if one is skipped)."""
    writer.write_header_to_file()   # EMPTY   → HEADER: magic, version, counts
    writer.write_kv_data_to_file()  # HEADER  → KV_DATA: metadata key/values
    writer.write_tensors_to_file()  # KV_DATA → TI_DATA → WEIGHTS: infos, aligned data
    writer.close()


# ---- metadata -----------------------------------------------------------------------------

def _add_parameters(writer, cfg, spec: ArchSpec, ftype: int) -> None:
    import gguf

    for key, value in spec.metadata(cfg).items():
        full = f"{spec.gguf_arch}.{key}"
        if isinstance(value, float):
            writer.add_float32(full, value)
        else:
            writer.add_uint32(full, value)
    writer.add_file_type(ftype)
    rope = rope_params(cfg)
    writer.add_rope_freq_base(float(rope["rope_theta"]))
    _add_rope_scaling(writer, rope, gguf)


def _add_rope_scaling(writer, rope: dict, gguf) -> None:
    kind = rope.get("rope_type", "default") or "default"
    if kind == "default":
        return
    if kind == "linear":
        writer.add_rope_scaling_type(gguf.RopeScalingType.LINEAR)
        writer.add_rope_scaling_factor(float(rope["factor"]))
        return
    raise UnsupportedModelError(f"rope scaling {kind!r} is not supported by this converter",
                                hint="supported: none, linear")


# ---- tensors ------------------------------------------------------------------------------

def _tensors(src: Path, cfg, spec: ArchSpec) -> Iterator[tuple[str, np.ndarray]]:
    """(GGUF name, float32 array) for every weight, transformed for llama.cpp."""
    tied = tied_embeddings(cfg)
    n_head, n_kv = int(cfg.num_attention_heads), kv_heads(cfg)
    for hf_name, data in _read_safetensors(src):
        if hf_name.endswith("rotary_emb.inv_freq") or (tied and hf_name == "lm_head.weight"):
            continue
        name = spec.gguf_name(hf_name)
        if name is None:
            raise UnsupportedModelError(f"no GGUF name for tensor {hf_name!r} ({spec.name})")
        if spec.norm_offset and hf_name.endswith("norm.weight"):
            data = data + np.float32(spec.norm_offset)
        if spec.permute_qk and hf_name.endswith(("q_proj.weight", "k_proj.weight")):
            heads = n_head if hf_name.endswith("q_proj.weight") else n_kv
            data = permute_qk(data, heads)
        yield name, data


def permute_qk(w: np.ndarray, n_head: int) -> np.ndarray:
    """HF's rotate-half q/k rows → llama.cpp's interleaved pairs, per head.
    [n_head * head_dim, n_embd] → same shape, rows reordered."""
    return (w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:])
            .swapaxes(1, 2).reshape(w.shape))


def _read_safetensors(src: Path) -> Iterator[tuple[str, np.ndarray]]:
    from safetensors import safe_open

    files = sorted(src.glob("*.safetensors"))
    if not files:
        raise InvalidModelFileError(f"{src} holds no *.safetensors weights")
    for path in files:
        with safe_open(str(path), framework="pt") as f:
            for key in f.keys():  # noqa: SIM118 - safe_open is not a dict
                yield key, f.get_tensor(key).float().numpy()


# ---- quantization -------------------------------------------------------------------------

_log_tail: collections.deque[str] = collections.deque(maxlen=20)
_log_callback = None


def _quiet_llama_log(lib) -> None:
    """Keep llama.cpp's quantizer log (one line per tensor) for error messages only."""
    global _log_callback
    if _log_callback is None:
        def record(level, text, user_data):
            _log_tail.append(text.decode("utf-8", errors="replace"))

        _log_callback = lib.llama_log_callback(record)  # keep a reference: C holds it
    lib.llama_log_set(_log_callback, ctypes.c_void_p(0))


def quantize(src: Path, dest: Path, ftype: int, *, n_threads: int = 0,
             allow_requantize: bool = False) -> Path:
    """Quantize the GGUF ``src`` into ``dest`` with llama.cpp (``ftype`` is a llama_ftype).
    A source that is already quantized is refused unless ``allow_requantize`` (its
    rounding errors would add up)."""
    import importlib

    lib = importlib.import_module("llama_cpp.llama_cpp")  # the C bindings only
    lib.llama_backend_init()
    _quiet_llama_log(lib)
    _log_tail.clear()
    params = lib.llama_model_quantize_default_params()
    params.ftype = ftype
    params.nthread = n_threads or (os.cpu_count() or 1)
    params.allow_requantize = allow_requantize
    rc = lib.llama_model_quantize(os.fsencode(str(src)), os.fsencode(str(dest)),
                                  ctypes.byref(params))
    if rc != 0:
        dest.unlink(missing_ok=True)
        tail = " | ".join(line.strip() for line in list(_log_tail)[-2:] if line.strip())
        hint = ("quantize from an F32/F16 file (e.g. `slm convert MODEL --to hf`, then "
                "`--to gguf --type ...`), or pass --allow-requantize"
                if "requantizing" in tail else None)
        raise SlmError(f"llama.cpp could not quantize {src} (code {rc})"
                       + (f": {tail}" if tail else ""), hint=hint)
    return dest
