"""An adapter into its base: dequantize → merge in float → GGUF → requantize → store.

The base GGUF is dequantized to float32 (the same cached directory training used), the
LoRA product ``B·A·alpha/r`` is added to each adapted weight in float32 (peft's
``merge_and_unload``), the result is written as an F32 GGUF with the base's exact
tokenizer (``convert.hf_to_gguf``) and quantized by llama.cpp's own quantizer to the
requested type. Merging never happens inside quantized weights, so the only rounding
is the final quantization's.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from slmkit.adapt.lora import ADAPTER_META, float_dir, load_adapter
from slmkit.core.errors import SlmError

FLOAT_TYPES = {"F32": 0, "F16": 1}


def ftype(name: str) -> int:
    """llama.cpp's ``llama_ftype`` for a type name such as ``Q4_K_M``, ``Q8_0`` or ``F16``."""
    key = name.upper()
    if key in FLOAT_TYPES:
        return FLOAT_TYPES[key]
    from slmkit.runtime.llamacpp.bindings import bindings

    value = getattr(bindings(), f"LLAMA_FTYPE_MOSTLY_{key}", None)
    if value is None:
        raise ValueError(f"unknown GGUF type {name!r} (e.g. Q4_K_M, Q5_K_M, Q8_0, F16, F32)")
    return int(value)


def is_adapter_dir(path: str | Path) -> bool:
    return (Path(path) / "adapter_config.json").is_file()


def merged_hf(base: str | Path, adapter_dir: str | Path, out_dir: str | Path, *,
              base_sha256: str | None = None) -> Path:
    """Base (GGUF or HF dir) + peft adapter → a float32 Hugging Face directory."""
    import torch

    from slmkit.adapt.train import save_full
    from slmkit.runtime.torch.loader import load

    hf = float_dir(base, base_sha256)
    loaded = load(str(hf))
    with torch.no_grad():
        model = load_adapter(loaded.model, adapter_dir).merge_and_unload()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    save_full(out, model, hf)
    return out


def merge(base: str | Path, adapter_dir: str | Path, out_path: str | Path, *,
          out_type: str = "Q4_K_M", base_sha256: str | None = None,
          keep_hf: str | Path | None = None, n_threads: int = 0) -> Path:
    """Write the merged model as a GGUF of ``out_type`` to ``out_path``.

    ``adapter_dir`` is a peft LoRA adapter, or the Hugging Face directory a ``full``
    fine-tune wrote (converted as is). ``keep_hf`` also keeps the merged float directory.
    ``n_threads`` (0: the physical cores) bounds torch's merge and llama.cpp's quantize."""
    from slmkit.convert import hf_to_gguf
    from slmkit.convert.to_gguf import quantize

    code = ftype(out_type)
    out = Path(out_path)
    if n_threads > 0:
        import torch

        torch.set_num_threads(n_threads)
    with tempfile.TemporaryDirectory(prefix="slm-merge-", dir=out.parent) as tmp:
        if is_adapter_dir(adapter_dir):
            hf = merged_hf(base, adapter_dir, keep_hf or Path(tmp) / "hf",
                           base_sha256=base_sha256)
        elif (Path(adapter_dir) / "config.json").is_file():
            hf = Path(adapter_dir)
        else:
            raise SlmError(f"{adapter_dir} is neither a LoRA adapter nor a model directory",
                           hint="point at the --output of `slm finetune`")
        f32 = Path(tmp) / "merged-f32.gguf"
        hf_to_gguf(hf, f32, out_type="f32")
        if code == 0:
            shutil.move(str(f32), out)
        else:
            quantize(f32, out, code, n_threads=n_threads)
    return out


def adapter_base(adapter_dir: str | Path) -> str | None:
    """The base model name recorded by ``slm finetune`` in the adapter directory."""
    meta = Path(adapter_dir) / ADAPTER_META
    if meta.is_file():
        return json.loads(meta.read_text()).get("base")
    return None


def merge_adapter(store, base: str, adapter_dir: str | Path, *, name: str | None = None,
                  out_type: str = "Q4_K_M", output: str | Path | None = None,
                  overwrite: bool = False, pull_missing: bool = True,
                  n_threads: int = 0) -> dict:
    """Merge ``adapter_dir`` into the stored (or path) model ``base`` (:func:`merge`) and
    register the GGUF as ``name`` (default ``<base>-ft-<type>``) with the base as parent
    (:meth:`Store.derive`), or write it to ``output``. An adapter trained on another base
    is refused unless ``overwrite``. Returns {name, path, parent, method, size_bytes}."""
    ref = store.resolve(base, pull_missing=pull_missing)
    trained_on = adapter_base(adapter_dir)
    if trained_on and trained_on not in (ref.name, ref.path) and not overwrite:
        raise ValueError(f"{adapter_dir} was trained on {trained_on!r}, not {ref.name!r}; "
                         "pass --force to merge anyway")
    method = f"merge:{Path(adapter_dir).name}+{out_type.lower()}"
    info = {"parent": ref.name, "method": method}
    if output is not None:
        out = merge(ref.path, adapter_dir, Path(output).expanduser(), out_type=out_type,
                    base_sha256=ref.sha256, n_threads=n_threads)
        return {"name": None, "path": str(out), **info, "size_bytes": out.stat().st_size}
    name = name or f"{ref.name}-ft-{out_type.lower()}"
    params = {"adapter": str(Path(adapter_dir).resolve()), "type": out_type,
              "trained_on": trained_on}
    with store.derive(name, parent=ref.name, method=method, params=params,
                      overwrite=overwrite) as d:
        merge(ref.path, adapter_dir, d.dir / f"{name}.gguf", out_type=out_type,
              base_sha256=ref.sha256, n_threads=n_threads)
    return {"name": name, "path": d.ref.path, **info, "size_bytes": d.ref.size_bytes}


def merge_or_export(store, base: str, adapter_dir: str | Path, *, adapter_gguf: str | None,
                    out_type: str = "Q4_K_M", overwrite: bool = False, pull_missing: bool = True,
                    **merge_kw) -> dict:
    """`slm merge`: :func:`merge_adapter` (``merge_kw``: name, output, n_threads), or with
    ``adapter_gguf`` only the adapter as a llama.cpp LoRA GGUF at that path; the info has
    ``message`` (what was done and what to run next) and ``seconds``."""
    import time

    from slmkit.util.text import format_bytes

    t0 = time.perf_counter()
    if adapter_gguf:
        from slmkit.adapt.export import export_for_stored_base

        info = export_for_stored_base(store, base, adapter_dir, adapter_gguf,
                                      overwrite=overwrite, pull_missing=pull_missing)
        info["message"] = (f"adapter GGUF written to {info['adapter_gguf']} "
                           f"({format_bytes(info['size_bytes'])}); serve it: slm serve "
                           f"{info['base']} --adapter NAME={info['adapter_gguf']}")
    else:
        info = merge_adapter(store, base, adapter_dir, out_type=out_type, overwrite=overwrite,
                             pull_missing=pull_missing, **merge_kw)
        info["message"] = (f"merged model written to {info['path']}" if info["name"] is None
                           else f"{info['parent']} + {adapter_dir} → stored as {info['name']} "
                                f"({format_bytes(info['size_bytes'])}, {out_type}); "
                                f"try: slm run {info['name']} \"…\"")
    info["seconds"] = round(time.perf_counter() - t0, 2)
    return info
