"""`slm quantize MODEL --engine torch --type int8|int4`: a torchao weight-only model for the
torch engine, registered in the store with its lineage.

The source is a stored model, a .gguf file or a Hugging Face directory; a GGUF is converted
to a float HF directory first (cached per digest under ``<store>/cache/compress/<key>/hf``,
the same place ``slm quantize --type …`` keeps it). The float model is loaded, quantized in
memory (:mod:`slmkit.runtime.torch.quantize`) to check it works and measure it, then written:

* ``int8`` — by default torchao's own safetensors (``model.safetensors`` with ``Int8Tensor``
  pieces and JSON metadata, read back without pickle): disk and memory both shrink.
* ``int4`` — float safetensors + the recipe: torchao 0.18 cannot serialize its CPU int4
  tensor, so the loader quantizes at load (disk size unchanged; memory shrinks).

Either way the directory carries ``slmkit-quant.json``, so ``slm run NAME`` / ``slm eval NAME``
(torch engine) load it quantized.
"""

from __future__ import annotations

import re
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from slmkit.compress.quantize import QuantizeError, cache_root, path_key
from slmkit.util.files import atomic_output
from slmkit.runtime.torch import quantize as tq

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf")
WEIGHT_INDEX = "model.safetensors.index.json"


@dataclass
class TorchQuantResult:
    name: str | None
    path: str
    parent: str
    quantization: str  # e.g. torchao-int4wo-g32
    method: str  # lineage, e.g. torchao:int8-weight-only
    storage: str  # float | torchao-safetensors
    disk_bytes: int
    weight_bytes_float: int
    weight_bytes_quantized: int
    quantized_linears: int
    kept_float: dict = field(default_factory=dict)
    seconds: float = 0.0
    registered: bool = True

    def to_dict(self) -> dict:
        return asdict(self)


def default_name(parent: str, recipe: tq.QuantRecipe) -> str:
    base = re.sub(r"-(hf|f32|f16)$", "", parent.lower())
    suffix = "int8" if recipe.scheme == "int8" else f"int4-g{recipe.group_size}"
    return f"{base}-torchao-{suffix}"


def float_hf_dir(store, ref) -> Path:
    """A float Hugging Face directory of ``ref``: itself when it is one, else its GGUF
    converted (dequantized) once and cached."""
    from slmkit.convert import gguf_to_hf

    path = Path(ref.path)
    if path.is_dir():
        recipe = tq.read_recipe(path)
        if recipe is not None:
            raise QuantizeError(f"{ref.name} is already quantized ({recipe.label})",
                                hint="quantize its float parent instead")
        return path
    cache = cache_root(store) / (ref.sha256 or path_key(path))[:16]
    cache.mkdir(parents=True, exist_ok=True)
    hf = cache / "hf"
    if not (hf / "config.json").is_file():
        atomic_output(lambda tmp: gguf_to_hf(path, tmp, overwrite=True), hf)
    return hf


def resolve_recipe(scheme: str, group_size: int | None, storage: str) -> tq.QuantRecipe:
    """``storage='auto'``: torchao safetensors where torchao can write them (int8), else
    float weights + recipe."""
    recipe = tq.parse_recipe(scheme) if group_size is None else tq.QuantRecipe(
        tq.parse_recipe(scheme).scheme, group_size)
    if storage == "auto":
        storage = "torchao-safetensors" if recipe.scheme == "int8" else "float"
    return recipe.with_storage(storage)


def quantize_torch(model: str, scheme: str, *, group_size: int | None = None, store=None,
                   name: str | None = None, output: str | Path | None = None,
                   storage: str = "auto", force: bool = False,
                   register: bool = True) -> TorchQuantResult:
    """Quantize ``model`` (stored name, .gguf or HF directory) with torchao ``scheme``
    (``int8`` / ``int4``) and register it as ``name`` (default
    ``<model>-torchao-<scheme>``), or only write the directory to ``output``."""
    from slmkit.models.store import Store
    from slmkit.runtime.torch import loader

    recipe = resolve_recipe(scheme, group_size, storage)
    tq.check_supported(recipe)
    store = store or Store()
    t0 = time.perf_counter()
    ref = store.resolve(model)
    target = name or default_name(ref.name, recipe)
    register = register and output is None
    if not register and Path(output).expanduser().exists() and not force:
        raise FileExistsError(f"{output} exists (pass --force to replace it)")
    params = {"scheme": recipe.scheme, "group_size": recipe.group_size,
              "storage": recipe.storage}

    def make(out: Path) -> tuple:
        src = float_hf_dir(store, ref)
        loaded = loader.load(str(src), dtype="float32")
        report = tq.quantize_model(loaded.model, recipe)
        write_quantized_dir(src, out, loaded.model, recipe)
        return report, sum(f.stat().st_size for f in out.rglob("*") if f.is_file())

    if register:
        with store.derive(target, parent=ref.name, method=recipe.lineage, params=params,
                          overwrite=force) as d:
            report, disk = make(d.dir / target)
        path = d.ref.path
    else:
        with store.scratch("torchao-") as work:
            report, disk = make(work / target)
            dest = Path(output).expanduser()
            if dest.exists():
                shutil.rmtree(dest) if dest.is_dir() else dest.unlink()
            shutil.move(str(work / target), dest)
        path = str(dest)
    return TorchQuantResult(target if register else None, path, ref.name, recipe.label,
                            recipe.lineage, recipe.storage, disk, report.bytes_before,
                            report.bytes_after, len(report.quantized), report.kept_float,
                            round(time.perf_counter() - t0, 2), register)


def write_quantized_dir(src: Path, out: Path, model, recipe: tq.QuantRecipe) -> Path:
    """``out`` = ``src``'s config/tokenizer files + weights (float copies, or torchao
    safetensors of ``model``) + the recipe."""
    out.mkdir(parents=True)
    stored = recipe.storage == "torchao-safetensors"
    for f in sorted(src.iterdir()):
        if not f.is_file() or f.name == tq.RECIPE_FILE:
            continue
        if stored and (f.name.endswith(WEIGHT_SUFFIXES) or f.name == WEIGHT_INDEX):
            continue
        shutil.copy2(f, out / f.name)
    if stored:
        tq.save_quantized(model, out)
    tq.write_recipe(out, recipe)
    return out
