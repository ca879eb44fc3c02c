"""GGUF → Hugging Face directory (config.json, model.safetensors, tokenizer files).

transformers reads the GGUF and dequantizes it to float32, but refuses to
``save_pretrained`` a model loaded that way; so we build a plain model from the same
config, load the state dict into it and save that. The tokenizer is rebuilt from the
file's metadata (with llama.cpp's pre-tokenizer where transformers' rebuild differs), and
the source file's metadata is kept beside it (:data:`constants.SIDECAR`) so converting
back writes the exact same tokenizer.
"""

from __future__ import annotations

import contextlib
import io
import shutil
import tempfile
from pathlib import Path

from slmkit.convert.constants import SIDECAR, SIDECAR_SKIP
from slmkit.core.errors import InvalidModelFileError, SlmError


def gguf_to_hf(src: str | Path, out_dir: str | Path, *, dtype: str = "float32",
               overwrite: bool = False) -> Path:
    """Convert the GGUF file ``src`` into a Hugging Face model directory ``out_dir``.

    Quantized tensors are dequantized; ``dtype`` (float32, bfloat16, float16) is what the
    safetensors hold. Returns ``out_dir``. Raises ``FileExistsError`` when ``out_dir`` is
    not empty (unless ``overwrite``), ``SlmError`` for an architecture transformers cannot
    read from GGUF.
    """
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    src, out = Path(src), Path(out_dir)
    if not is_gguf(src):
        raise InvalidModelFileError(f"{src} is not a GGUF file")
    if dtype not in ("float32", "bfloat16", "float16"):
        raise ValueError(f"dtype must be float32, bfloat16 or float16, got {dtype!r}")
    _prepare(out, overwrite)
    model, tok, chat_template = _load_gguf(src)
    config_dict = model.config.to_dict()
    config_dict.pop("quantization_config", None)
    config_dict.pop("_name_or_path", None)
    model_type = config_dict.pop("model_type")
    _add_keys_gguf_lacks(config_dict, model_type)
    config = AutoConfig.for_model(model_type, **config_dict)
    config.dtype = dtype
    plain = AutoModelForCausalLM.from_config(config, dtype=getattr(torch, dtype))
    state = model.state_dict()
    missing, unexpected = plain.load_state_dict(state, strict=False)
    missing = [k for k in missing if not _is_tied(plain, k)]
    if missing or unexpected:
        raise SlmError(f"GGUF → HF: tensors did not line up (missing {missing[:5]}, "
                       f"unexpected {unexpected[:5]})")
    plain.save_pretrained(str(out))
    if model.generation_config is not None:
        model.generation_config.save_pretrained(str(out))
    if chat_template and not tok.chat_template:
        tok.chat_template = chat_template
    tok.save_pretrained(str(out))
    write_sidecar(src, out / SIDECAR)
    return out


def _add_keys_gguf_lacks(config_dict: dict, model_type: str) -> None:
    """Config keys a GGUF does not store, set to what llama.cpp computes them from
    (Gemma 3's ``query_pre_attn_scalar``: its ``head_dim``)."""
    from slmkit import arch

    spec = arch.find_hf(model_type)
    for key, source in (spec.config_from_gguf.items() if spec else ()):
        config_dict[key] = config_dict.get(source)


def is_gguf(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(4) == b"GGUF"
    except OSError:
        return False


def _load_gguf(src: Path):
    """transformers' GGUF reader (dequantizing), quietly; the tokenizer split like llama.cpp."""
    import gguf
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as tf_logging

    fields = gguf.GGUFReader(str(src)).fields
    meta = {k: _field_value(fields[k]) for k in ("general.architecture", "tokenizer.ggml.pre",
                                                 "tokenizer.chat_template") if k in fields}
    tf_logging.disable_progress_bar()
    try:
        with contextlib.redirect_stderr(io.StringIO()), _gguf_named(src) as (where, name):
            tok = AutoTokenizer.from_pretrained(where, gguf_file=name)
            model = AutoModelForCausalLM.from_pretrained(where, gguf_file=name)
    except (ValueError, KeyError, NotImplementedError) as err:
        raise SlmError(f"transformers cannot read {meta.get('general.architecture')!r} "
                       f"GGUF {src}: {err}") from err
    if meta.get("tokenizer.ggml.pre") == "smollm":  # as SmolLM's own tokenizer.json splits
        from tokenizers import pre_tokenizers

        tok.backend_tokenizer.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])
    return model, tok, meta.get("tokenizer.chat_template")


@contextlib.contextmanager
def _gguf_named(path: Path):
    """transformers recognises a GGUF by its ``.gguf`` suffix, which store blobs lack."""
    if path.suffix.lower() == ".gguf":
        yield str(path.parent), path.name
        return
    with tempfile.TemporaryDirectory(prefix="slm-gguf-") as tmp:
        (Path(tmp) / "model.gguf").symlink_to(path.resolve())
        yield tmp, "model.gguf"


def _is_tied(model, key: str) -> bool:
    tied = getattr(model, "_tied_weights_keys", None) or {}
    from slmkit.arch.base import tied_embeddings

    return key in tied and tied_embeddings(model.config)


def _prepare(out: Path, overwrite: bool) -> None:
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise FileExistsError(f"{out} exists and is not empty (pass overwrite=True / "
                                  "--force to replace it)")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)


def write_sidecar(src: Path, dest: Path) -> None:
    """Write every metadata key/value of the GGUF ``src`` (but those describing its
    tensor data) into a tensor-less GGUF at ``dest``."""
    import gguf

    reader = gguf.GGUFReader(str(src))
    arch = _field_value(reader.fields["general.architecture"])
    writer = gguf.GGUFWriter(str(dest), arch)
    for name, field in reader.fields.items():
        if name.startswith("GGUF.") or name in SIDECAR_SKIP or name == "general.architecture":
            continue
        vtype = field.types[0]
        sub = field.types[-1] if vtype == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(name, _field_value(field), vtype, sub)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    writer.close()


def _field_value(field):
    import gguf

    value = field.contents()
    if field.types[0] == gguf.GGUFValueType.ARRAY and hasattr(value, "tolist"):
        return value.tolist()
    return value


def read_sidecar(path: Path) -> list[tuple[str, object, object, object]]:
    """``(key, value, value_type, sub_type)`` of every key in a sidecar written by
    :func:`write_sidecar`."""
    import gguf

    reader = gguf.GGUFReader(str(path))
    out = []
    for name, field in reader.fields.items():
        if name.startswith("GGUF."):
            continue
        vtype = field.types[0]
        sub = field.types[-1] if vtype == gguf.GGUFValueType.ARRAY else None
        out.append((name, _field_value(field), vtype, sub))
    return out
