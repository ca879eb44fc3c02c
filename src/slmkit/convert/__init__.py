"""GGUF ⇄ Hugging Face safetensors → ONNX, and :func:`convert_model`, the `slm convert` verb.

- :func:`gguf_to_hf` — a GGUF file (any quantization transformers can dequantize) → a
  directory transformers and the torch engine load (float32 safetensors, config,
  tokenizer, plus the source's metadata for the way back).
- :func:`hf_to_gguf` — a directory of any architecture in :mod:`slmkit.arch` → GGUF (f32,
  f16 or q8_0) that llama.cpp loads.

- :func:`convert_model` — a stored model (or path) converted and registered in the store
  with its lineage (or written to a path).

Heavy imports (torch, transformers, gguf, llama_cpp) happen inside the functions.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

GGUF_TYPES = ("f32", "f16", "q8_0")
ONNX_TYPES = ("int4", "int8", "fp32")
# (model reference, work directory) → (the source to export instead, lineage tag)
Prepare = Callable[[object, Path], tuple[Path, str]]


def gguf_to_hf(src, out_dir, **options):
    """See :func:`slmkit.convert.to_hf.gguf_to_hf`."""
    from slmkit.convert.to_hf import gguf_to_hf as run

    return run(src, out_dir, **options)


def hf_to_gguf(src_dir, out_path, **options):
    """See :func:`slmkit.convert.to_gguf.hf_to_gguf`."""
    from slmkit.convert.to_gguf import hf_to_gguf as run

    return run(src_dir, out_path, **options)


def default_name(source: str, to: str, out_type: str) -> str:
    """``<source>-hf``, ``<source>-<type>`` or ``<source>-onnx-<type>`` (a previous
    conversion suffix of the source is dropped)."""
    base = re.sub(r"-(hf|f32|f16|q8_0|onnx-(int4|int8|fp32))$", "", source.lower())
    if to == "onnx":
        return f"{base}-onnx-{out_type}"
    return f"{base}-hf" if to == "hf" else f"{base}-{out_type}"


def check_type(to: str, out_type: str | None) -> str:
    """The tensor type for ``to`` (its default when not given); rejects a mismatch."""
    allowed = ONNX_TYPES if to == "onnx" else GGUF_TYPES
    if out_type is None:
        return allowed[0]
    if to != "hf" and out_type not in allowed:
        raise ValueError(f"--type {out_type} does not apply to --to {to}; "
                         f"choose one of {', '.join(allowed)}")
    return out_type


def convert_model(store, model: str, to: str, *, out_type: str | None = None,
                  name: str | None = None, output: str | Path | None = None,
                  overwrite: bool = False, allow_requantize: bool = False,
                  block_size: int = 32, verbose: bool = False, pull_missing: bool = True,
                  prepare: Prepare | None = None) -> dict:
    """Convert ``model`` (a name ``store`` resolves, a .gguf or an HF directory) ``to``
    ``hf`` | ``gguf`` | ``onnx`` at ``out_type`` and register it as ``name`` (default
    :func:`default_name`) with its lineage through ``store.derive``, or write it to
    ``output``. ``prepare`` swaps the ONNX export's source (e.g. an AWQ-calibrated float
    model from :mod:`slmkit.compress`) and extends the lineage tag. Returns {name, path,
    source, method, size_bytes, seconds, registered}."""
    out_type = check_type(to, out_type)
    if prepare is not None and (to != "onnx" or out_type == "fp32"):
        raise ValueError("--calibrate applies to --to onnx --type int4|int8 (for GGUF types "
                         "use `slm quantize MODEL --type T --calibrate DATA`)")
    ref = store.resolve(model, pull_missing=pull_missing)
    job = _Job(ref, to, out_type, overwrite, allow_requantize, block_size, verbose, prepare,
               store)
    t0 = time.perf_counter()
    if output is not None:
        path = Path(output).expanduser()
        method = _convert(job, path)
    else:
        name = name or default_name(ref.name, to, out_type)
        params = {"to": to, "type": out_type, "block_size": block_size if to == "onnx"
                  else None, "allow_requantize": allow_requantize}
        with store.derive(name, parent=ref.name, method=f"convert:{to}", params=params,
                          overwrite=overwrite) as d:
            d.method = _convert(job, d.dir / (f"{name}.gguf" if to == "gguf" else name))
        path, method = Path(d.ref.path), d.method
    size = (sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir()
            else path.stat().st_size)
    return {"name": name if output is None else None, "path": str(path), "source": ref.name,
            "method": method, "size_bytes": size,
            "seconds": round(time.perf_counter() - t0, 2), "registered": output is None}


@dataclass(frozen=True)
class _Job:
    ref: object  # the source's ModelRef
    to: str
    out_type: str
    overwrite: bool
    allow_requantize: bool
    block_size: int
    verbose: bool
    prepare: Prepare | None
    store: object

    @property
    def src(self) -> Path:
        return Path(self.ref.path)


def _convert(job: _Job, out: Path) -> str:
    """Write ``job``'s conversion to ``out``; the lineage method."""
    is_dir = job.src.is_dir()
    if job.to == "onnx":
        return _to_onnx(job, out)
    if job.to == "hf":
        if is_dir:
            raise ValueError(f"{job.ref.name} is already a Hugging Face directory")
        gguf_to_hf(job.src, out, overwrite=job.overwrite)
        return "convert:gguf-to-hf"
    if is_dir:
        hf_to_gguf(job.src, out, out_type=job.out_type, overwrite=job.overwrite)
        return f"convert:hf-to-gguf-{job.out_type}"
    from slmkit.convert.constants import OUT_TYPES
    from slmkit.convert.to_gguf import quantize

    if out.exists() and not job.overwrite:
        raise FileExistsError(f"{out} exists (pass --force to replace it)")
    quantize(job.src, out, OUT_TYPES[job.out_type][0], allow_requantize=job.allow_requantize)
    return f"quantize:{job.out_type}"


def _to_onnx(job: _Job, out: Path) -> str:
    from slmkit.convert.to_onnx import hf_to_onnx

    is_dir = job.src.is_dir()
    if is_dir and (job.src / "genai_config.json").is_file():
        raise ValueError(f"{job.ref.name} is already an ONNX model directory")
    method = f"convert:{'hf' if is_dir else 'gguf'}-to-onnx-{job.out_type}"
    if job.prepare is None:
        hf_to_onnx(job.src, out, precision=job.out_type, block_size=job.block_size,
                   overwrite=job.overwrite, verbose=job.verbose)
        return method
    with job.store.scratch("onnx-calib-") as work:
        src, tag = job.prepare(job.ref, work)
        hf_to_onnx(src, out, precision=job.out_type, block_size=job.block_size,
                   overwrite=job.overwrite, verbose=job.verbose)
    return method + tag


__all__ = ["GGUF_TYPES", "ONNX_TYPES", "check_type", "convert_model", "default_name",
           "gguf_to_hf", "hf_to_gguf"]
