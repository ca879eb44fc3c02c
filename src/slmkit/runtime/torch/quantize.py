"""torchao weight-only quantization of a loaded transformers model, in memory.

Two schemes, both weight-only (activations stay float, so nothing needs calibration):

* ``int8`` — torchao's ``Int8WeightOnlyConfig``: one int8 per weight, one float scale per
  output row (``Int8Tensor``). Any ``nn.Linear`` shape.
* ``int4`` — 4-bit asymmetric groups of ``group_size`` (32, 64 or 128) along the input
  dimension, two weights per byte plus a float (scale, zero) pair per group. torchao 0.18's
  ``Int4WeightOnlyConfig`` has no CPU layout left (its ``plain`` format needs the CUDA-only
  mslk kernels and ``tile_packed_to_4d`` needs CUDA), so on CPU we use torchao's
  ``PrototypeInt4WeightOnlyConfig`` → ``Int4OpaqueTensor``, which packs for and calls
  PyTorch's CPU tinygemm kernel (``aten._weight_int4pack_mm_for_cpu``). A Linear whose
  ``in_features`` is not a multiple of the group size stays float (listed in the report).
  That kernel is fast only for bfloat16 activations, so in a float32 model the int4 layers
  compute in bfloat16 (input cast down, output cast back up); everything else stays float32.

What stays float: embeddings (a lookup, not a matmul) and ``lm_head`` when it is tied to the
input embeddings — quantizing it would untie it and keep a second copy of the largest
matrix, so memory would grow. An untied ``lm_head`` is quantized like any Linear.

Storage (see :mod:`slmkit.compress.torch_quant`): a model directory may carry a recipe,
``slmkit-quant.json``. With ``"storage": "float"`` the safetensors are the float weights and
the loader quantizes at load (disk size unchanged, memory shrinks). With
``"storage": "torchao-safetensors"`` (int8 only) the safetensors hold torchao's own flattened
tensors (``_weight_qdata``, ``_weight_scale``, … plus JSON metadata that names each tensor
class, read back through torchao's allow-list — no pickle), so the disk shrinks as well.
``Int4OpaqueTensor`` is not on torchao 0.18's safetensors allow-list, so int4 is stored float.
"""

from __future__ import annotations

import contextlib
import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path

from slmkit.core.errors import InvalidModelFileError, SlmError

RECIPE_FILE = "slmkit-quant.json"
SCHEMES = ("int8", "int4")
GROUP_SIZES = (32, 64, 128)
DEFAULT_GROUP_SIZE = 32
STORAGES = ("float", "torchao-safetensors")
QUANT_DTYPES = ("float32", "bfloat16")  # activations the CPU kernels take
QUANTIZED_WEIGHTS = "model.safetensors"


class QuantizationUnsupportedError(SlmError):
    """A quantization scheme this torch/torchao build or this model cannot do."""

    code = "quantization_unsupported"


@dataclass(frozen=True)
class QuantRecipe:
    """What to apply: ``scheme`` int8|int4, ``group_size`` (int4 only), and how the weights
    on disk are stored (``float``: quantize at load; ``torchao-safetensors``: already)."""

    scheme: str
    group_size: int | None = None
    storage: str = "float"
    method: str = "torchao"

    def __post_init__(self) -> None:
        if self.method != "torchao":
            raise QuantizationUnsupportedError(
                f"unknown quantization method {self.method!r}", hint="only 'torchao' is known")
        if self.scheme not in SCHEMES:
            raise QuantizationUnsupportedError(
                f"unknown torch quantization scheme {self.scheme!r}",
                hint=f"choose one of: {', '.join(SCHEMES)} (GGUF types such as Q4_K_M belong "
                     "to the llamacpp engine)")
        if self.scheme == "int8" and self.group_size is not None:
            raise QuantizationUnsupportedError(
                "int8 weight-only quantization has one scale per row; it takes no group size",
                hint="drop --group-size, or use --type int4")
        if self.scheme == "int4":
            if self.group_size is None:
                object.__setattr__(self, "group_size", DEFAULT_GROUP_SIZE)
            if self.group_size not in GROUP_SIZES:
                raise QuantizationUnsupportedError(
                    f"int4 group size {self.group_size} is not supported",
                    hint=f"choose one of: {', '.join(map(str, GROUP_SIZES))}")
        if self.storage not in STORAGES:
            raise QuantizationUnsupportedError(
                f"unknown weight storage {self.storage!r}", hint=f"one of: {', '.join(STORAGES)}")
        if self.storage == "torchao-safetensors" and self.scheme != "int8":
            raise QuantizationUnsupportedError(
                "torchao 0.18 cannot write int4 CPU tensors (Int4OpaqueTensor) to safetensors",
                hint="store int4 as float weights + recipe (storage 'float')")

    @property
    def label(self) -> str:
        """``torchao-int8wo`` or ``torchao-int4wo-g32`` (what ``info.quantization`` shows)."""
        return "torchao-int8wo" if self.scheme == "int8" else f"torchao-int4wo-g{self.group_size}"

    @property
    def lineage(self) -> str:
        """The store's lineage method, e.g. ``torchao:int4-weight-only(g32)``."""
        g = f"(g{self.group_size})" if self.scheme == "int4" else ""
        return f"torchao:{self.scheme}-weight-only{g}"

    def to_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None}

    def with_storage(self, storage: str) -> QuantRecipe:
        return QuantRecipe(self.scheme, self.group_size, storage, self.method)


@dataclass
class QuantReport:
    """What :func:`quantize_model` did: Linear layers quantized and kept float (with the
    reason), weight bytes in memory before and after."""

    recipe: QuantRecipe
    quantized: list[str] = field(default_factory=list)
    kept_float: dict[str, str] = field(default_factory=dict)
    bytes_before: int = 0
    bytes_after: int = 0

    def to_dict(self) -> dict:
        return {"quantization": self.recipe.label, "quantized_linears": len(self.quantized),
                "kept_float": dict(self.kept_float), "weight_bytes_before": self.bytes_before,
                "weight_bytes_after": self.bytes_after}


def parse_recipe(spec) -> QuantRecipe:
    """A :class:`QuantRecipe` from a recipe, a dict (the JSON file) or a string: ``int8``,
    ``int4`` (group 32), ``int4-g64``, ``torchao-int4wo-g128``, ``int8wo``."""
    if isinstance(spec, QuantRecipe):
        return spec
    if isinstance(spec, dict):
        known = {"method", "scheme", "group_size", "storage"}
        extra = set(spec) - known - {"version", "label", "lineage"}
        if extra or "scheme" not in spec:
            raise QuantizationUnsupportedError(
                f"bad quantization recipe {spec!r}",
                hint=f'expected {{"method": "torchao", "scheme": "int8"|"int4", '
                     f'"group_size": N}} in {RECIPE_FILE}')
        return QuantRecipe(**{k: v for k, v in spec.items() if k in known})
    text = str(spec).strip().lower()
    text = text.removeprefix("torchao-").removeprefix("torchao:")
    scheme, _, rest = text.partition("-g")
    scheme = scheme.removesuffix("wo").removesuffix("-weight-only")
    group = None
    if rest:
        if not rest.isdigit():
            raise QuantizationUnsupportedError(f"cannot read quantization {spec!r}",
                                               hint="write e.g. int8, int4 or int4-g64")
        group = int(rest)
    return QuantRecipe(scheme, group)


def read_recipe(directory: str | Path) -> QuantRecipe | None:
    """The recipe a model directory carries, or None."""
    path = Path(directory) / RECIPE_FILE
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise InvalidModelFileError(f"cannot read {path}: {err}") from err
    return parse_recipe(data)


def write_recipe(directory: str | Path, recipe: QuantRecipe) -> Path:
    path = Path(directory) / RECIPE_FILE
    data = {"version": 1, **recipe.to_dict(), "label": recipe.label}
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return path


# ---- torchao ------------------------------------------------------------------------------
@contextlib.contextmanager
def _quiet_import():
    """torchao's import logs a warning per CUDA-only ``.so`` it cannot load on a CPU build,
    and torch logs a deprecation for each Enum torchao registers; neither matters here."""
    names = ("torchao", "torch.utils._pytree")
    saved = [(logging.getLogger(n), logging.getLogger(n).level) for n in names]
    for lg, _ in saved:
        lg.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for lg, level in saved:
            lg.setLevel(level)


def _torchao():
    try:
        with _quiet_import():
            import torchao
            import torchao.quantization
    except ImportError as err:
        raise QuantizationUnsupportedError(
            f"torchao is not installed ({err})",
            hint="pip install 'slmkit[compress]' (brings torchao)") from err
    return torchao


def check_supported(recipe: QuantRecipe, dtype: str = "float32") -> None:
    """Raise :class:`QuantizationUnsupportedError` (with the reason) when ``recipe`` cannot
    run on this CPU / torch / torchao build with ``dtype`` activations."""
    import torch

    torchao = _torchao()
    if dtype not in QUANT_DTYPES:
        raise QuantizationUnsupportedError(
            f"torchao weight-only kernels on CPU take {' or '.join(QUANT_DTYPES)} activations, "
            f"not {dtype}", hint="load with dtype float32 (default) or bfloat16")
    if recipe.scheme == "int4":
        missing = [op for op in ("_convert_weight_to_int4pack_for_cpu",
                                 "_weight_int4pack_mm_for_cpu")
                   if not hasattr(torch.ops.aten, op)]
        if missing:
            raise QuantizationUnsupportedError(
                f"this torch build ({torch.__version__}) lacks the CPU int4 kernels "
                f"{', '.join(missing)}", hint="use --type int8, or torch >= 2.6")
        try:
            with _quiet_import():
                from torchao.prototype.quantization.int4.inference_workflow import (  # noqa: F401
                    PrototypeInt4WeightOnlyConfig,
                )
        except ImportError as err:
            raise QuantizationUnsupportedError(
                f"torchao {torchao.__version__} has no CPU int4 weight-only path ({err})",
                hint="use --type int8, or torchao 0.18") from err


def _config(recipe: QuantRecipe):
    with _quiet_import():
        if recipe.scheme == "int8":
            from torchao.quantization import Int8WeightOnlyConfig

            return Int8WeightOnlyConfig(set_inductor_config=False)
        from torchao.prototype.quantization.int4.inference_workflow import (
            PrototypeInt4WeightOnlyConfig,
        )

        return PrototypeInt4WeightOnlyConfig(group_size=recipe.group_size,
                                             set_inductor_config=False)


def plan_linears(model, recipe: QuantRecipe) -> tuple[list[str], dict[str, str]]:
    """(names of the ``nn.Linear`` modules to quantize, {name: why kept float})."""
    import torch

    tied_head = _tied_head(model)
    chosen, kept = [], {}
    for name, module in model.named_modules():
        if not isinstance(module, torch.nn.Linear):
            continue
        if module is tied_head:
            kept[name] = "tied to the input embeddings"
        elif recipe.scheme == "int4" and module.in_features % recipe.group_size:
            kept[name] = f"in_features {module.in_features} not a multiple of {recipe.group_size}"
        else:
            chosen.append(name)
    return chosen, kept


def _tied_head(model):
    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    emb = model.get_input_embeddings() if hasattr(model, "get_input_embeddings") else None
    if head is None or emb is None:
        return None
    return head if head.weight is emb.weight else None


def quantize_model(model, recipe, *, dtype: str = "float32") -> QuantReport:
    """Quantize ``model``'s Linear weights in place with torchao (``recipe``: a
    :class:`QuantRecipe` or a string such as ``int8`` / ``int4-g64``). Returns a report."""
    recipe = parse_recipe(recipe)
    check_supported(recipe, dtype)
    from torchao.quantization import quantize_

    chosen, kept = plan_linears(model, recipe)
    if not chosen:
        raise QuantizationUnsupportedError(
            f"no Linear layer of this model can take {recipe.label}",
            hint="try a smaller --group-size or --type int8")
    report = QuantReport(recipe, chosen, kept, bytes_before=weight_bytes(model))
    wanted = set(chosen)
    if recipe.scheme == "int4" and dtype != "bfloat16":
        _int4_in_bfloat16(model, wanted, dtype)
    with _quiet_import():
        quantize_(model, _config(recipe), filter_fn=lambda _m, fqn: fqn in wanted)
    report.bytes_after = weight_bytes(model)
    return report


def _int4_in_bfloat16(model, names: set[str], dtype: str) -> None:
    """PyTorch's CPU int4 kernel is fast only for bfloat16 activations (measured on AVX-512:
    float32 is ~10× slower at one token, ~60× at 512). So int4 Linears of a float32 model
    are packed from bfloat16 weights, and cast their input to bfloat16 and output back."""
    import functools

    import torch

    from slmkit.runtime.torch.loader import torch_dtype

    back = functools.partial(_cast_output, dtype=torch_dtype(dtype))
    for name, module in model.named_modules():
        if name in names:
            module.to(torch.bfloat16)
            module.register_forward_pre_hook(_to_bfloat16)
            module.register_forward_hook(back)


def _to_bfloat16(module, args):
    import torch

    return (args[0].to(torch.bfloat16), *args[1:])


def _cast_output(module, args, out, *, dtype):
    return out.to(dtype)


def weight_bytes(model) -> int:
    """Bytes the model's parameters and buffers occupy, torchao tensors counted by their
    inner tensors (packed data, scales, zero points), shared storage counted once."""
    seen: set[tuple[int, int]] = set()
    total = 0
    tensors = [*model.parameters(), *model.buffers()]
    for t in tensors:
        for leaf in _leaves(t):
            key = (leaf.untyped_storage().data_ptr(), leaf.storage_offset())
            if key in seen:
                continue
            seen.add(key)
            total += leaf.numel() * leaf.element_size()
    return total


def _leaves(t) -> list:
    data = getattr(t, "data", t)
    names = getattr(type(data), "tensor_data_names", None)
    if names is None:
        return [data]
    optional = getattr(type(data), "optional_tensor_data_names", None) or []
    out = []
    for n in [*names, *optional]:
        inner = getattr(data, n, None)
        if inner is not None:
            out += _leaves(inner)
    return out


def is_quantized(tensor) -> bool:
    return getattr(type(getattr(tensor, "data", tensor)), "tensor_data_names", None) is not None


# ---- storage ------------------------------------------------------------------------------
def save_quantized(model, directory: str | Path) -> Path:
    """Write ``model``'s state (torchao tensors flattened by torchao's safetensors support,
    their classes named in the JSON metadata) to ``directory/model.safetensors``."""
    from safetensors.torch import save_file

    with _quiet_import():
        from torchao.prototype.safetensors.safetensors_support import flatten_tensor_state_dict

    state = dict(model.state_dict())
    tied = _tied_head(model)
    if tied is not None:  # the loader re-ties it; saving shared storage twice is refused
        state = {k: v for k, v in state.items()
                 if not (k.endswith(".weight") and _module_of(model, k) is tied)}
    tensors, metadata = flatten_tensor_state_dict(state)
    tensors = {k: v.contiguous() for k, v in tensors.items()}
    path = Path(directory) / QUANTIZED_WEIGHTS
    save_file(tensors, str(path), metadata=metadata)
    return path


def _module_of(model, key: str):
    name = key.rsplit(".", 1)[0]
    return dict(model.named_modules()).get(name)


def load_quantized(directory: str | Path, dtype: str = "float32"):
    """Build the model of ``directory``'s config.json without initialising weights and load
    the torchao safetensors into it (tensor classes from torchao's allow-list; no pickle)."""
    from safetensors import safe_open
    from safetensors.torch import load_file
    from transformers import AutoConfig, AutoModelForCausalLM
    from transformers.initialization import no_init_weights

    from slmkit.runtime.torch.loader import torch_dtype

    _torchao()
    with _quiet_import():
        from torchao.prototype.safetensors.safetensors_support import (
            unflatten_tensor_state_dict,
        )
    directory = Path(directory)
    path = directory / QUANTIZED_WEIGHTS
    if not path.is_file():
        raise InvalidModelFileError(f"{directory} says its weights are torchao safetensors but "
                                    f"has no {QUANTIZED_WEIGHTS}")
    with safe_open(str(path), framework="pt") as f:
        metadata = f.metadata() or {}
    try:
        state, leftover = unflatten_tensor_state_dict(load_file(str(path)), metadata)
    except (ValueError, KeyError, TypeError, json.JSONDecodeError) as err:
        raise InvalidModelFileError(f"cannot read torchao tensors from {path}: {err}") from err
    if leftover:
        raise InvalidModelFileError(f"{path} has tensors torchao could not rebuild: "
                                    f"{sorted(leftover)[:5]}")
    config = AutoConfig.from_pretrained(str(directory))
    with no_init_weights():
        model = AutoModelForCausalLM.from_config(config, dtype=torch_dtype(dtype))
    missing, unexpected = model.load_state_dict(state, strict=False, assign=True)
    model.tie_weights()
    tied = _tied_head(model)
    missing = [k for k in missing if not (tied is not None and _module_of(model, k) is tied)]
    if missing or unexpected:
        raise InvalidModelFileError(
            f"{path} does not match its config: missing {missing[:5]}, unexpected "
            f"{unexpected[:5]}")
    return model
