"""Every constant the converters use, in one place: file types, key names, pre-tokenizer
patterns, the metadata sidecar's name. What differs per architecture lives in
:mod:`slmkit.arch`."""

from __future__ import annotations

# ``--type`` → (llama_ftype for general.file_type, numpy dtype of 2-D weights or None when
# llama.cpp's quantizer writes the file from an F32 one).
OUT_TYPES: dict[str, tuple[int, str | None]] = {
    "f32": (0, "float32"),
    "f16": (1, "float16"),
    "q8_0": (7, None),
}

# Metadata-only GGUF that ``gguf_to_hf`` leaves in the Hugging Face directory: every
# key/value of the source file except the ones describing its tensor data, so that
# ``hf_to_gguf`` writes the exact tokenizer back.
SIDECAR = "source-metadata.gguf"
SIDECAR_SKIP = frozenset({"general.file_type", "general.quantization_version",
                          "general.alignment", "split.no", "split.count",
                          "split.tensors.count"})
# Keys copied from the sidecar into a new GGUF (the architecture's own keys are recomputed
# from config.json, so an edited config is honoured).
CARRY_PREFIXES = ("tokenizer.", "general.")
CARRY_SKIP = frozenset({"general.architecture"}) | SIDECAR_SKIP

# llama.cpp's pre-tokenizer names, recognised from tokenizer.json's Split regex.
LLAMA3_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
QWEN2_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
SPLIT_PRE_TYPES = {LLAMA3_SPLIT: "llama-bpe", QWEN2_SPLIT: "qwen2"}
KNOWN_PRE_TYPES = ("gpt-2", "smollm", "llama-bpe", "qwen2")

# GGUF token types (llama.cpp's llama_token_type).
TOKEN_NORMAL, TOKEN_UNKNOWN, TOKEN_CONTROL, TOKEN_USER_DEFINED, TOKEN_UNUSED, TOKEN_BYTE = (
    1, 2, 3, 4, 5, 6)
