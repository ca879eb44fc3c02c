"""Hugging Face directory (or GGUF file) → ONNX Runtime GenAI model directory.

The export is onnxruntime-genai's model builder (``onnxruntime_genai.models.builder``),
called in-process for the CPU execution provider: fused ``GroupQueryAttention`` and
``SkipSimplifiedLayerNormalization`` ops, and with ``precision="int4"`` every MatMul
(lm_head included) becomes a ``MatMulNBits`` with 4-bit blocks of ``block_size``
weights (round-to-nearest, symmetric). It runs offline: the input is a local directory
and the builder's cache lives in a temporary directory. A GGUF input is converted to a
Hugging Face directory first (:func:`slmkit.convert.to_hf.gguf_to_hf`, dequantizing).

The output directory holds ``model.onnx`` + ``model.onnx.data``, ``genai_config.json``,
the tokenizer files, and :data:`SIDECAR` (what we exported, for the engine's info).
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import shutil
import tempfile
from pathlib import Path

from slmkit.core.errors import InvalidModelFileError, SlmError

PRECISIONS = ("int4", "int8", "fp32")
BLOCK_SIZES = (16, 32, 64, 128, 256)
SIDECAR = "slmkit-onnx.json"
GENAI_CONFIG = "genai_config.json"
INSTALL_HINT = "install the ONNX extra: pip install 'slmkit[compress]' (onnxruntime-genai, onnx-ir)"


def hf_to_onnx(src: str | Path, out_dir: str | Path, *, precision: str = "int4",
               block_size: int = 32, accuracy_level: int | None = None,
               builder_options: dict[str, str] | None = None, overwrite: bool = False,
               verbose: bool = False) -> Path:
    """Export ``src`` (a Hugging Face directory with safetensors, or a GGUF file) to an
    ONNX Runtime GenAI directory ``out_dir`` and return it.

    ``precision``: ``int4`` (MatMulNBits, ``block_size`` weights per scale), ``int8`` or
    ``fp32``. ``accuracy_level`` is the builder's MatMulNBits compute type (default: its
    CPU default, 4 = int8 activations). ``builder_options`` go to the builder as its
    ``--extra_options KEY=VALUE`` (e.g. ``{"algo_config": "k_quant_last"}``).

    Raises ``FileExistsError`` when ``out_dir`` is not empty (unless ``overwrite``),
    ``InvalidModelFileError`` for an input that is not a model, ``SlmError`` for an
    architecture the builder does not support.
    """
    src, out = Path(src).expanduser(), Path(out_dir).expanduser()
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if block_size not in BLOCK_SIZES:
        raise ValueError(f"block_size must be one of {BLOCK_SIZES}, got {block_size}")
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise FileExistsError(f"{out} exists and is not empty (pass overwrite=True / --force "
                              "to replace it)")
    if _is_gguf(src):
        return _from_gguf(src, out, precision=precision, block_size=block_size,
                          accuracy_level=accuracy_level, builder_options=builder_options,
                          verbose=verbose)
    arch = check_hf_dir(src)
    builder = _import_builder()
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".onnx-export-", dir=out.parent) as tmp:
        staged = Path(tmp) / "model"
        options = {"hf_token": "false", "block_size": str(block_size)}
        if accuracy_level is not None:
            options["accuracy_level"] = str(accuracy_level)
        options.update({str(k): str(v) for k, v in (builder_options or {}).items()})
        _run_builder(builder, src, staged, Path(tmp) / "cache", precision, options, arch,
                     verbose)
        _write_sidecar(staged, src, arch, precision, block_size, accuracy_level)
        if builder_options:
            _patch_sidecar(staged, builder_options=builder_options)
        if out.exists():
            shutil.rmtree(out)
        shutil.move(str(staged), str(out))
    return out


def check_hf_dir(src: Path) -> str:
    """The architecture of the Hugging Face directory ``src``; raises a clear error when
    it is missing, has no config or no safetensors weights."""
    if not src.exists():
        raise InvalidModelFileError(f"no such model directory or file: {src}")
    if not src.is_dir():
        raise InvalidModelFileError(f"{src} is neither a GGUF file nor a Hugging Face directory",
                                    hint="give a .gguf file or a directory with config.json "
                                         "and *.safetensors")
    config = src / "config.json"
    if not config.is_file():
        raise InvalidModelFileError(f"{src} has no config.json",
                                    hint="point at a directory written by save_pretrained or "
                                         "`slm convert MODEL --to hf`")
    if not any(src.glob("*.safetensors")):
        pickled = any(src.glob("*.bin")) or any(src.glob("*.pt"))
        raise InvalidModelFileError(
            f"{src} has no *.safetensors weights" + (" (only pickled *.bin/*.pt, which slmkit "
                                                     "does not load)" if pickled else ""),
            hint="save the model with save_pretrained(safe_serialization=True)")
    try:
        archs = json.loads(config.read_text(encoding="utf-8")).get("architectures") or []
    except (OSError, ValueError) as err:
        raise InvalidModelFileError(f"{config} is not valid JSON: {err}") from err
    if not archs:
        raise InvalidModelFileError(f"{config} names no architecture (\"architectures\")")
    return str(archs[0])


def _from_gguf(src: Path, out: Path, **options) -> Path:
    from slmkit.convert.to_hf import gguf_to_hf

    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".onnx-hf-", dir=out.parent) as tmp:
        hf = gguf_to_hf(src, Path(tmp) / "hf")
        result = hf_to_onnx(hf, out, overwrite=True, **options)
        _patch_sidecar(result, source=str(src), via="gguf-to-hf")
        return result


def _import_builder():
    try:
        from onnxruntime_genai.models import builder
    except ImportError as err:
        raise SlmError(f"onnxruntime-genai's model builder is not available ({err})",
                       hint=INSTALL_HINT) from err
    return builder


def _run_builder(builder, src: Path, out: Path, cache: Path, precision: str,
                 options: dict[str, str], arch: str, verbose: bool) -> None:
    """Call the builder the way its ``__main__`` does, quietly unless ``verbose``."""
    log = io.StringIO()
    quiet = contextlib.ExitStack()
    if not verbose:
        quiet.enter_context(contextlib.redirect_stdout(log))
        quiet.enter_context(contextlib.redirect_stderr(log))
        quiet.enter_context(_quiet_loggers(("onnxruntime.quantization", "onnx_ir",
                                            "transformers", "neural_compressor")))
    try:
        with quiet, _offline():
            extra = builder.parse_extra_options(None, str(src), str(out), precision, "cpu",
                                                str(cache), [f"{k}={v}" for k, v in
                                                             options.items()])
            builder.create_model(None, str(src), str(out), precision, "cpu", str(cache),
                                 **extra)
    except NotImplementedError as err:
        raise SlmError(f"onnxruntime-genai's builder does not support {arch} ({src})",
                       hint="supported: Llama, Mistral, Qwen2/3, Gemma 1-3, Phi, SmolLM3, "
                            "Granite, OLMo, … (see onnxruntime-genai's model builder)") from err
    except SlmError:
        raise
    except Exception as err:  # the builder raises bare Exceptions and asserts
        tail = "\n".join(log.getvalue().strip().splitlines()[-5:])
        raise SlmError(f"ONNX export of {src} ({arch}, {precision}) failed: "
                       f"{type(err).__name__}: {err}" + (f"\n{tail}" if tail else ""),
                       hint="rerun with --verbose to see the builder's output") from err
    if not (out / GENAI_CONFIG).is_file():
        raise SlmError(f"the ONNX builder wrote no {GENAI_CONFIG} into {out}")


@contextlib.contextmanager
def _quiet_loggers(names):
    saved = [(logging.getLogger(n), logging.getLogger(n).level) for n in names]
    for logger, _ in saved:
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for logger, level in saved:
            logger.setLevel(level)


@contextlib.contextmanager
def _offline():
    """Nothing in a local export needs the hub: make sure nothing tries."""
    from slmkit.settings import temporary_env

    with temporary_env(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1"):
        yield


def _write_sidecar(out: Path, src: Path, arch: str, precision: str, block_size: int,
                   accuracy_level: int | None) -> None:
    info = {"format": "onnxruntime-genai", "precision": precision, "architecture": arch,
            "source": str(src), "execution_provider": "cpu", "n_params": count_params(src)}
    if precision in ("int4", "int8"):
        info.update(block_size=block_size, accuracy_level=accuracy_level)
    with contextlib.suppress(ImportError):
        import onnxruntime_genai

        info["builder"] = f"onnxruntime-genai {onnxruntime_genai.__version__}"
    (out / SIDECAR).write_text(json.dumps(info, indent=2), encoding="utf-8")


def count_params(src: Path) -> int:
    """Parameters in a directory's safetensors (read from their headers only)."""
    import struct

    total = 0
    for path in src.glob("*.safetensors"):
        try:
            with open(path, "rb") as f:
                (n,) = struct.unpack("<Q", f.read(8))
                header = json.loads(f.read(n))
        except (OSError, ValueError, struct.error):
            return 0
        for key, tensor in header.items():
            if key != "__metadata__":
                size = 1
                for dim in tensor.get("shape", []):
                    size *= int(dim)
                total += size
    return total


def _patch_sidecar(out: Path, **fields) -> None:
    path = out / SIDECAR
    info = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    info.update(fields)
    path.write_text(json.dumps(info, indent=2), encoding="utf-8")


def _is_gguf(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(4) == b"GGUF"
    except OSError:
        return False
