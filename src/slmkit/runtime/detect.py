"""Which backend runs a model path: decided by what is on disk, never by a file name.

- a file starting with the GGUF magic → ``llamacpp`` (store blobs have no ``.gguf`` suffix)
- a directory with ``genai_config.json`` → ``onnx`` (onnxruntime-genai's model builder,
  ``slm convert MODEL --to onnx``)
- a directory with ``config.json`` and ``*.safetensors`` (or ``pytorch_model*.bin``)
  weights → ``torch`` (``save_pretrained``, ``slm convert MODEL --to hf``, torchao-quantized
  directories from ``slm quantize --engine torch``)

Anything else raises ``InvalidModelFileError`` saying what was found and what is expected.
Stdlib only: importing this loads no backend.
"""

from __future__ import annotations

from pathlib import Path

from slmkit.core.errors import InvalidModelFileError

GGUF_MAGIC = b"GGUF"
ONNX_CONFIG = "genai_config.json"
HF_CONFIG = "config.json"
HF_WEIGHT_GLOBS = ("*.safetensors", "pytorch_model*.bin")
EXPECTED = ("a GGUF file, an ONNX Runtime GenAI directory (genai_config.json) or a Hugging "
            "Face directory (config.json + *.safetensors)")


def is_gguf(path: str | Path) -> bool:
    """True when ``path`` is a file that starts with the GGUF magic."""
    try:
        with open(path, "rb") as f:
            return f.read(4) == GGUF_MAGIC
    except OSError:  # a directory, a missing file, no permission
        return False


def is_onnx_dir(path: str | Path) -> bool:
    """True for a directory holding an ONNX Runtime GenAI model (``genai_config.json``)."""
    return (Path(path) / ONNX_CONFIG).is_file()


def hf_weight_files(path: str | Path) -> list[Path]:
    """The weight files of a Hugging Face directory (safetensors first, else ``.bin``)."""
    root = Path(path)
    for pattern in HF_WEIGHT_GLOBS:
        found = sorted(p for p in root.glob(pattern) if p.is_file())
        if found:
            return found
    return []


def is_hf_dir(path: str | Path) -> bool:
    """True for a Hugging Face model directory: ``config.json`` plus weight files."""
    return (Path(path) / HF_CONFIG).is_file() and bool(hf_weight_files(path))


def detect_backend(path: str | Path) -> str:
    """The backend name (``llamacpp``, ``onnx`` or ``torch``) for a model file or directory.

    Raises ``InvalidModelFileError`` for a missing path, a file that is not GGUF, or a
    directory that is neither an ONNX Runtime GenAI nor a Hugging Face model."""
    p = Path(path).expanduser()
    if p.is_dir():
        if is_onnx_dir(p):
            return "onnx"
        if is_hf_dir(p):
            return "torch"
        if (p / HF_CONFIG).is_file():
            raise InvalidModelFileError(
                f"{p} has config.json but no weights (*.safetensors or pytorch_model*.bin)",
                hint="copy the weight files next to config.json, or re-create the directory "
                     "with `slm convert MODEL --to hf`")
        raise InvalidModelFileError(f"{p} is not a model directory: it has neither "
                                    f"{ONNX_CONFIG} nor {HF_CONFIG}", hint=f"give {EXPECTED}")
    if p.is_file():
        if is_gguf(p):
            return "llamacpp"
        raise InvalidModelFileError(f"{p} is not a GGUF file (it does not start with 'GGUF')",
                                    hint=f"give {EXPECTED}")
    raise InvalidModelFileError(f"no such model file or directory: {p}",
                                hint=f"check the path; a model is {EXPECTED}")
