"""`slm quantize`: a model → a GGUF type through llama.cpp's quantizer, registered with lineage.

The quantizer always starts from an F32 GGUF: a float GGUF is used as it is, a Hugging
Face directory is converted, and a quantized GGUF is dequantized first (GGUF → HF → F32;
its weights then sit on the old grid, which flatters any re-quantization — see
:mod:`.reference` for an off-grid reference). Conversions are cached per source digest
under ``<store>/cache/compress/``.

With calibration data (:mod:`.calibrate`) the float model is scaled activation-aware
(folded, function unchanged) and/or an importance matrix is computed; both go to
llama.cpp (``llama_model_quantize`` with ``params.imatrix``). The lineage method records the
type, the calibration method, the data's sha256 and the token count.
"""

from __future__ import annotations

import ctypes
import os
import re
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from slmkit.core.errors import SlmError
from slmkit.util.files import atomic_output

# --type → llama_ftype (llama.h)
FTYPES: dict[str, int] = {
    "F32": 0, "F16": 1, "BF16": 32, "Q8_0": 7, "Q6_K": 18, "Q5_K_M": 17, "Q5_K_S": 16,
    "Q5_1": 9, "Q5_0": 8, "Q4_K_M": 15, "Q4_K_S": 14, "Q4_1": 3, "Q4_0": 2, "Q3_K_L": 13,
    "Q3_K_M": 12, "Q3_K_S": 11, "Q2_K": 10, "IQ4_XS": 30, "IQ4_NL": 25, "IQ3_M": 27,
    "IQ3_S": 26, "IQ3_XS": 22, "IQ3_XXS": 23, "IQ2_M": 29, "IQ2_S": 28, "IQ2_XS": 20,
    "IQ2_XXS": 19, "IQ1_M": 31, "IQ1_S": 24,
}
# ggml_type ids for --output-type / --embed-type
GGML_TYPES: dict[str, int] = {"F32": 0, "F16": 1, "Q4_0": 2, "Q4_1": 3, "Q5_0": 6, "Q5_1": 7,
                              "Q8_0": 8, "Q4_K": 12, "Q5_K": 13, "Q6_K": 14, "BF16": 30}
# llama.cpp refuses these without an importance matrix (too few bits to guess blindly)
NEEDS_IMATRIX = frozenset({"IQ1_S", "IQ1_M", "IQ2_XXS", "IQ2_XS", "IQ2_S", "IQ2_M", "IQ3_XXS"})
CALIB_METHODS = ("awq+imatrix", "awq", "imatrix")
FLOAT_TENSOR_TYPES = frozenset({"F32", "F16", "BF16"})


class QuantizeError(SlmError):
    code = "quantize_error"


@dataclass
class FloatSource:
    """An F32 GGUF of a model, and (made on demand) its Hugging Face directory."""

    name: str
    f32: Path
    cache: Path
    hf_dir: Path | None
    on_grid: bool  # dequantized from a quantized file: weights sit on the old grid
    made_from: str

    def hf(self) -> Path:
        from slmkit.convert import gguf_to_hf

        if self.hf_dir is None:
            self.hf_dir = self.cache / "hf"
            if not (self.hf_dir / "config.json").is_file():
                tmp = self.cache / f"hf.{os.getpid()}.tmp"
                gguf_to_hf(self.f32, tmp, overwrite=True)
                shutil.rmtree(self.hf_dir, ignore_errors=True)
                os.replace(tmp, self.hf_dir)
        return self.hf_dir


@dataclass
class QuantizeResult:
    name: str | None
    path: str
    parent: str
    gguf_type: str
    method: str
    size_bytes: int
    bits_per_weight: float
    seconds: float
    on_grid_source: bool
    calibration: dict | None = None
    registered: bool = True
    tensor_types: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def normalize_type(gguf_type: str) -> str:
    t = gguf_type.strip().upper()
    if t not in FTYPES:
        raise QuantizeError(f"unknown GGUF type {gguf_type!r}",
                            hint=f"choose one of: {', '.join(FTYPES)}")
    return t


def default_name(parent: str, gguf_type: str, calibrated: str | None = None) -> str:
    base = re.sub(r"-(hf|f32|f16)$", "", parent.lower())
    suffix = {"awq+imatrix": "-awq", "awq": "-awqonly", "imatrix": "-imat"}.get(calibrated or "")
    return f"{base}-{gguf_type.lower()}{suffix or ''}"


def cache_root(store) -> Path:
    return Path(store.root) / "cache" / "compress"


def float_source(store, ref) -> FloatSource:
    """The F32 GGUF (and, lazily, HF directory) of the stored/resolved model ``ref``."""
    from slmkit.convert import gguf_to_hf, hf_to_gguf

    path = Path(ref.path)
    key = (ref.sha256 or path_key(path))[:16]
    cache = cache_root(store) / key
    cache.mkdir(parents=True, exist_ok=True)
    f32 = cache / "f32.gguf"
    if path.is_dir():
        if not f32.is_file():
            atomic_output(lambda tmp: hf_to_gguf(path, tmp, out_type="f32", overwrite=True), f32)
        return FloatSource(ref.name, f32, cache, path, False, "hf")
    types = tensor_types(path)
    quantized = {t for t in types if t not in FLOAT_TENSOR_TYPES}
    if not quantized and "F16" not in types and "BF16" not in types:
        return FloatSource(ref.name, path, cache, _stored_hf(store, ref.name), False, "f32")
    src = FloatSource(ref.name, f32, cache, None, bool(quantized), "gguf")
    if not f32.is_file():
        hf = cache / "hf"
        if not (hf / "config.json").is_file():
            atomic_output(lambda tmp: gguf_to_hf(path, tmp, overwrite=True), hf)
        atomic_output(lambda tmp: hf_to_gguf(hf, tmp, out_type="f32", overwrite=True), f32)
        src.hf_dir = hf
    return src


def _stored_hf(store, name: str) -> Path | None:
    """``NAME-hf`` when the store holds it as a directory made from ``NAME`` (as
    :mod:`.reference` registers it), so it need not be converted again."""
    hf = f"{name}-hf"
    try:
        if store.has(hf) and store.manifest(hf).get("parent") == name:
            path = store.blob_path(hf)
            return path if (path / "config.json").is_file() else None
    except (OSError, ValueError, SlmError):
        return None
    return None


def path_key(path: Path) -> str:
    """A cache key for a file with no recorded digest: its path, size and mtime."""
    import hashlib

    st = path.stat()
    return hashlib.sha256(f"{path.resolve()}:{st.st_size}:{st.st_mtime_ns}".encode()).hexdigest()


def tensor_types(path: Path) -> dict[str, int]:
    """GGUF tensor type name → number of tensors of that type."""
    import gguf

    out: dict[str, int] = {}
    for t in gguf.GGUFReader(str(path)).tensors:
        out[t.tensor_type.name] = out.get(t.tensor_type.name, 0) + 1
    return out


def bits_per_weight(path: Path) -> float:
    """Bits of tensor data per parameter, every tensor counted (embeddings too)."""
    import gguf

    reader = gguf.GGUFReader(str(path))
    n_bytes = sum(int(t.n_bytes) for t in reader.tensors)
    n_params = sum(int(t.n_elements) for t in reader.tensors)
    return 8.0 * n_bytes / n_params if n_params else 0.0


def llama_quantize(src: Path, dest: Path, gguf_type: str, *, imatrix: dict | None = None,
                   output_type: str | None = None, embed_type: str | None = None,
                   n_threads: int = 0) -> Path:
    """llama.cpp's ``llama_model_quantize`` from the float GGUF ``src``, with an optional
    importance matrix (GGUF tensor name → float32 [n_in]) and per-tensor-type overrides."""
    import importlib

    import numpy as np

    from slmkit.convert import to_gguf

    lib = importlib.import_module("llama_cpp.llama_cpp")
    lib.llama_backend_init()
    to_gguf._quiet_llama_log(lib)
    to_gguf._log_tail.clear()
    params = lib.llama_model_quantize_default_params()
    params.ftype = FTYPES[gguf_type]
    params.nthread = n_threads or (os.cpu_count() or 1)
    if output_type:
        params.output_tensor_type = GGML_TYPES[output_type.upper()]
    if embed_type:
        params.token_embedding_type = GGML_TYPES[embed_type.upper()]
    keep = []  # the arrays C reads must outlive the call
    if imatrix:
        entries = (lib.llama_model_imatrix_data * (len(imatrix) + 1))()
        for i, (name, values) in enumerate(sorted(imatrix.items())):
            arr = np.ascontiguousarray(values, dtype=np.float32)
            bname = name.encode()
            keep += [arr, bname]
            entries[i].name = bname
            entries[i].data = arr.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
            entries[i].size = arr.size
        entries[len(imatrix)].name = None  # the list ends at a null name
        keep.append(entries)
        params.imatrix = entries
    rc = lib.llama_model_quantize(os.fsencode(str(src)), os.fsencode(str(dest)),
                                  ctypes.byref(params))
    del keep
    if rc != 0:
        dest.unlink(missing_ok=True)
        tail = " | ".join(x.strip() for x in list(to_gguf._log_tail)[-3:] if x.strip())
        raise QuantizeError(f"llama.cpp could not quantize {src} to {gguf_type} (code {rc})"
                            + (f": {tail}" if tail else ""))
    return dest


_STATS_MEMO: dict[tuple, object] = {}


def calibrated_f32(src: FloatSource, text: str, gguf_type: str, method: str, work: Path, *,
                   n_tokens: int = 4096, progress=None):
    """Calibrate the float model on ``text`` for ``gguf_type`` → (F32 GGUF path of the
    scaled model or the plain one, Calibration)."""
    from slmkit.convert import hf_to_gguf

    folded, result = calibrated_hf(src, text, gguf_type, method, work, n_tokens=n_tokens,
                                   progress=progress)
    if folded is None:
        return src.f32, result
    f32 = hf_to_gguf(folded, work / "scaled-f32.gguf", out_type="f32", overwrite=True)
    shutil.rmtree(folded, ignore_errors=True)
    return f32, result


def calibrated_hf(src: FloatSource, text: str, gguf_type: str, method: str, work: Path, *,
                  n_tokens: int = 4096, progress=None):
    """Calibrate the float model on ``text`` for ``gguf_type``'s grid → (Hugging Face
    directory ``work/scaled-hf`` of the AWQ-scaled model, or None when ``method`` folds no
    scales; Calibration). Also the way to calibrate for another runtime whose weight grid
    matches a GGUF type (ONNX int4 symmetric blocks of 32 are Q4_0's grid)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from slmkit.compress import calibrate as cal

    hf = src.hf()
    model = AutoModelForCausalLM.from_pretrained(str(hf), dtype=torch.float32,
                                                 use_safetensors=True)
    model.eval()
    key = (str(hf), cal.text_digest(text), n_tokens)
    stats = _STATS_MEMO.get(key)
    if stats is None:
        tok = AutoTokenizer.from_pretrained(str(hf))
        ids = cal.calibration_ids(tok, text, n_tokens=n_tokens)
        stats = cal.collect(model, ids, progress=progress)
        _STATS_MEMO.clear()
        _STATS_MEMO[key] = stats
    awq = method in ("awq+imatrix", "awq")
    result = cal.calibrate(model, stats, gguf_type, awq=awq,
                           imatrix=method in ("awq+imatrix", "imatrix"), progress=progress)
    if not awq:
        return None, result
    return cal.save_folded(model, hf, work / "scaled-hf"), result


def quantize_model(model: str, gguf_type: str, *, store=None, name: str | None = None,
                   calibrate: str | None = None, calib_text: str | None = None,
                   calib_method: str = "awq+imatrix", calib_tokens: int = 4096,
                   output: str | Path | None = None, output_type: str | None = None,
                   embed_type: str | None = None, force: bool = False, threads: int = 0,
                   progress=None, register: bool = True) -> QuantizeResult:
    """Quantize ``model`` (a stored name, .gguf file or HF directory) to ``gguf_type``.

    ``calibrate`` names the calibration data (a dataset name, pypi: spec or file;
    ``calib_text`` gives the text directly). The result is registered in ``store`` as
    ``name`` (default ``<model>-<type>[-awq]``) unless ``output`` is given (then it is only
    written there), through :meth:`Store.derive` (lineage: parent, method, params).
    Raises ``QuantizeError`` for an unknown type or an IQ type that needs an importance
    matrix without calibration data, ``ModelExistsError`` for a name already taken without
    ``force``.
    """
    from slmkit.models.store import Store

    gguf_type = normalize_type(gguf_type)
    calibrated = calibrate is not None or calib_text is not None
    if calib_method not in CALIB_METHODS:
        raise QuantizeError(f"unknown calibration method {calib_method!r}",
                            hint=f"choose one of: {', '.join(CALIB_METHODS)}")
    if gguf_type in NEEDS_IMATRIX and not (calibrated and "imatrix" in calib_method):
        raise QuantizeError(f"{gguf_type} needs an importance matrix",
                            hint="pass --calibrate DATA (text the model will see, e.g. "
                                 "wikipedia or a .txt of your own) to compute one")
    store = store or Store()
    t0 = time.perf_counter()
    ref = store.resolve(model)
    target = name or default_name(ref.name, gguf_type, calib_method if calibrated else None)
    job = _Job(gguf_type, calib_method if calibrated else None, calibrate, calib_text,
               calib_tokens, output_type, embed_type, threads, progress)
    if register and output is None:
        params = {"type": gguf_type, "calibrate": calibrate if calibrated else None,
                  "calib_method": job.calib_method, "calib_tokens": calib_tokens,
                  "output_type": output_type, "embed_type": embed_type}
        with store.derive(target, parent=ref.name, method=f"quantize:{gguf_type}",
                          params=params, overwrite=force) as d:
            made = _quantize(store, ref, d.dir / f"{target}.gguf", job)
            d.method = made["method"]
        path = d.ref.path
    else:
        path = Path(output).expanduser()
        if path.exists() and not force:
            raise FileExistsError(f"{path} exists (pass --force to replace it)")
        made = _quantize(store, ref, path, job)
        target = None
    return QuantizeResult(target, str(path), ref.name, gguf_type, made["method"],
                          made["size"], round(made["bpw"], 4),
                          round(time.perf_counter() - t0, 2), made["on_grid"],
                          made["calibration"], target is not None, made["types"])


@dataclass(frozen=True)
class _Job:
    gguf_type: str
    calib_method: str | None  # None: not calibrated
    calibrate: str | None
    calib_text: str | None
    calib_tokens: int
    output_type: str | None
    embed_type: str | None
    threads: int
    progress: object


def _quantize(store, ref, out: Path, job: _Job) -> dict:
    """Quantize ``ref`` into the GGUF file ``out``; the facts of the result."""
    src = float_source(store, ref)
    with store.scratch("quantize-") as work:
        f32, calibration, data_desc = src.f32, None, None
        if job.calib_method:
            text, data_desc = calibration_text(job.calibrate, job.calib_text)
            f32, calibration = calibrated_f32(src, text, job.gguf_type, job.calib_method, work,
                                              n_tokens=job.calib_tokens, progress=job.progress)
            data_desc["tokens"] = job.calib_tokens
        llama_quantize(f32, out, job.gguf_type, n_threads=job.threads,
                       imatrix=calibration.imatrix if calibration else None,
                       output_type=job.output_type, embed_type=job.embed_type)
    method = lineage_method(job.gguf_type, job.calib_method, data_desc, job.output_type,
                            job.embed_type)
    return {"method": method, "bpw": bits_per_weight(out), "types": tensor_types(out),
            "size": out.stat().st_size, "on_grid": src.on_grid,
            "calibration": ({**calibration.summary(), "data": data_desc} if calibration
                            else None)}


# the GGUF type whose weight grid the ONNX builder's symmetric round-to-nearest matches
ONNX_GRID = {"int4": "Q4_0", "int8": "Q8_0"}


def onnx_calibration(store, data: str, precision: str, *, block_size: int = 32,
                     n_tokens: int = 4096):
    """A ``prepare`` hook for :func:`slmkit.convert.convert_model`: search AWQ-style scales
    on ``data`` for the ONNX ``precision``'s grid and export the float model with them
    folded in (its function kept). Returns ``prepare(ref, work) -> (hf_dir, lineage_tag)``."""
    if block_size != 32:
        raise ValueError("--calibrate searches scales for blocks of 32 weights; "
                         "drop --block-size or use 32")

    def prepare(ref, work: Path) -> tuple[Path, str]:
        text, info = calibration_text(data)
        folded, _ = calibrated_hf(float_source(store, ref), text, ONNX_GRID[precision], "awq",
                                  work, n_tokens=n_tokens)
        return folded, (f"+awq(data={info['name']},sha256={info['sha256'][:12]},"
                        f"tokens={n_tokens})")

    return prepare


def lineage_method(gguf_type: str, calib_method: str | None, data: dict | None,
                   output_type: str | None = None, embed_type: str | None = None) -> str:
    """E.g. ``quantize:Q4_K_M+awq+imatrix(data=owt,sha256=1a2b3c4d5e6f,tokens=4096)``."""
    method = f"quantize:{gguf_type}"
    if calib_method:
        method += f"+{calib_method}(data={data.get('name')},sha256={str(data.get('sha256'))[:12]}" \
                  f",tokens={data.get('tokens')})"
    if output_type:
        method += f"+output={output_type.upper()}"
    if embed_type:
        method += f"+embed={embed_type.upper()}"
    return method


def calibration_text(spec: str | None, text: str | None = None) -> tuple[str, dict]:
    """(text, {name, sha256}) of a dataset spec, or of ``text`` given directly."""
    from slmkit.compress.calibrate import text_digest

    if text is None:
        from slmkit.evaluate import datasets

        ds = datasets.resolve(spec, kind="text")
        text = datasets.load_text(ds)
        return text, {"name": ds.name, "sha256": text_digest(text)}
    return text, {"name": spec or "text", "sha256": text_digest(text)}
