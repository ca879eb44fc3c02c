"""Loading a model for the torch engine: a Hugging Face directory or a GGUF file.

A directory is what ``save_pretrained`` writes (config.json, *.safetensors, tokenizer
files). A GGUF file is loaded by transformers' own GGUF reader and dequantized to float32;
its tokenizer is rebuilt from the file's metadata, then corrected where transformers'
rebuild differs from llama.cpp's tokenizer (the pre-tokenizer of ``smollm`` vocabularies),
so both engines see the same token ids.

``quant`` (or a directory's ``slmkit-quant.json`` recipe) applies torchao weight-only
quantization right after the weights are loaded (:mod:`slmkit.runtime.torch.quantize`).
"""

from __future__ import annotations

import contextlib
import io
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from slmkit.core.errors import InvalidModelFileError, SlmError
from slmkit.runtime.hfvocab import adds_bos

GGUF_MAGIC = b"GGUF"
DTYPES = ("float32", "bfloat16", "float16")


@dataclass
class Loaded:
    model: object
    tokenizer: object
    architecture: str
    quantization: str
    add_bos: bool
    chat_template: str | None
    gguf_metadata: dict = field(default_factory=dict)
    quant: object | None = None  # QuantReport when torchao quantization was applied


def is_gguf(path: str | Path) -> bool:
    """True when ``path`` is a file that starts with the GGUF magic (store blobs have no
    ``.gguf`` suffix, so the content decides)."""
    try:
        with open(path, "rb") as f:
            return f.read(4) == GGUF_MAGIC
    except (IsADirectoryError, FileNotFoundError, PermissionError):
        return False


def load(path: str, *, dtype: str = "float32", verbose: bool = False,
         quant: str | None = None) -> Loaded:
    """Load ``path`` (a Hugging Face directory or a GGUF file) for inference on CPU.

    ``quant`` (``int8``, ``int4``, ``int4-g64``, …) quantizes the Linear weights with torchao
    after loading; without it a directory's ``slmkit-quant.json`` recipe is applied."""
    quiet_transformers(verbose)
    p = Path(path)
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {DTYPES}, got {dtype!r}")
    if p.is_dir():
        return _load_dir(p, dtype, quant)
    if is_gguf(p):
        return _quantized(_load_gguf(p, dtype, verbose), quant, dtype)
    if not p.exists():
        raise InvalidModelFileError(f"no such model file or directory: {path}")
    raise InvalidModelFileError(
        f"{path} is neither a GGUF file nor a Hugging Face model directory",
        hint="give a .gguf file or a directory with config.json and *.safetensors")


def torch_dtype(name: str):
    """The torch dtype called ``name`` (``float32``, ``bfloat16``, …)."""
    import torch

    return getattr(torch, name)


def _quantized(loaded: Loaded, quant, dtype: str) -> Loaded:
    if quant is None:
        return loaded
    from slmkit.runtime.torch.quantize import quantize_model

    loaded.quant = quantize_model(loaded.model, quant, dtype=dtype)
    loaded.quantization = loaded.quant.recipe.label
    return loaded


def _load_dir(path: Path, dtype: str, quant=None) -> Loaded:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from slmkit.runtime.torch import quantize as tq

    if not (path / "config.json").is_file():
        raise InvalidModelFileError(f"{path} has no config.json",
                                    hint="point at a directory written by save_pretrained "
                                         "or `slm convert MODEL --to hf`")
    recipe = tq.read_recipe(path)
    stored = recipe is not None and recipe.storage == "torchao-safetensors"
    if quant is not None and recipe is not None:
        wanted = tq.parse_recipe(quant)
        if stored and wanted.label != recipe.label:
            raise tq.QuantizationUnsupportedError(
                f"{path} holds {recipe.label} weights; it cannot be re-quantized to "
                f"{wanted.label}", hint="quantize the float parent model instead")
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(path))
        if stored:
            tq.check_supported(recipe, dtype)
            model = tq.load_quantized(path, dtype)
        else:
            model = AutoModelForCausalLM.from_pretrained(str(path), dtype=torch_dtype(dtype),
                                                         use_safetensors=True)
    except (OSError, ValueError, KeyError) as err:
        raise InvalidModelFileError(f"transformers could not load {path}: {err}") from err
    model.eval()
    add_bos = adds_bos(tokenizer)
    arch = model.config.model_type
    loaded = Loaded(model, tokenizer, arch, str(model.config.dtype or dtype).replace(
        "torch.", ""), add_bos, tokenizer.chat_template)
    if stored:
        loaded.quantization = recipe.label
        loaded.quant = tq.QuantReport(recipe, [n for n, p in model.named_parameters()
                                               if tq.is_quantized(p)])
        loaded.quant.bytes_after = tq.weight_bytes(model)
        return loaded
    return _quantized(loaded, quant if quant is not None else recipe, dtype)


def _load_gguf(path: Path, dtype: str, verbose: bool) -> Loaded:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from slmkit.models.gguf_file import read_gguf

    info = read_gguf(path)
    meta = info.metadata
    try:
        with _silenced(verbose), gguf_named(path) as (where, name):
            tokenizer = AutoTokenizer.from_pretrained(where, gguf_file=name)
            model = AutoModelForCausalLM.from_pretrained(where, gguf_file=name,
                                                         dtype=torch_dtype(dtype))
    except (ValueError, KeyError, NotImplementedError) as err:
        raise SlmError(f"transformers cannot load {info.architecture!r} GGUF {path}: {err}",
                       hint="use the llamacpp engine for this model") from err
    model.eval()
    fix_pre_tokenizer(tokenizer, meta.get("tokenizer.ggml.pre"))
    _after_gguf_load(model)
    tok_model = meta.get("tokenizer.ggml.model")
    add_bos = bool(meta.get("tokenizer.ggml.add_bos_token", tok_model == "llama"))
    return Loaded(model, tokenizer, info.architecture, info.quantization, add_bos,
                  info.chat_template, meta)


@contextlib.contextmanager
def gguf_named(path: Path):
    """(directory, file name) under which transformers sees ``path`` as a GGUF: it decides
    by the ``.gguf`` suffix, which store blobs (``sha256-…``) lack — so link one in."""
    if path.suffix.lower() == ".gguf":
        yield str(path.parent), path.name
        return
    with tempfile.TemporaryDirectory(prefix="slm-gguf-") as tmp:
        link = Path(tmp) / "model.gguf"
        link.symlink_to(path.resolve())
        yield tmp, link.name


def fix_pre_tokenizer(tokenizer, pre: str | None) -> None:
    """Make a GGUF-rebuilt tokenizer split text like llama.cpp's ``pre`` type does.

    transformers rebuilds ``smollm`` vocabularies with GPT-2's byte-level split only;
    llama.cpp (and SmolLM's own tokenizer.json) first splits every digit apart.
    """
    if pre != "smollm":
        return
    from tokenizers import pre_tokenizers

    tokenizer.backend_tokenizer.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
    ])


def _after_gguf_load(model) -> None:
    """What the architecture must correct in a model transformers read from a GGUF (Gemma 3:
    the attention scale a GGUF does not store; see :mod:`slmkit.arch`)."""
    from slmkit import arch

    spec = arch.find_hf(model.config.model_type)
    if spec is not None and spec.after_gguf_load is not None:
        spec.after_gguf_load(model)


def quiet_transformers(verbose: bool) -> None:
    """Silence transformers' logging and progress bars unless ``verbose``."""
    from slmkit.settings import export_env
    from slmkit.util.quiet import quiet_known_noise

    quiet_known_noise()
    export_env("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    if verbose:
        return
    from transformers.utils import logging as tf_logging

    tf_logging.set_verbosity_error()
    tf_logging.disable_progress_bar()


@contextlib.contextmanager
def _silenced(verbose: bool):
    """transformers' GGUF reader draws tqdm bars on stderr; keep them out unless verbose."""
    if verbose:
        yield
        return
    with contextlib.redirect_stderr(io.StringIO()):
        yield
