"""Read and validate a GGUF file's header, metadata and tensor table — never its tensor data.

``read_gguf(path)`` is the gate every GGUF file passes before anything else touches it: it
checks the magic and version, bounds every count and length against the file size, parses
the metadata key/values and the tensor infos, and checks that the file is at least as long
as the tensor data it declares (this is how a truncated download is caught). The file is
memory-mapped and only the header pages are touched, so a 500 MB model reads in
milliseconds.

Layout (little-endian, versions 2 and 3)::

    magic "GGUF" | u32 version | u64 n_tensors | u64 n_kv
    n_kv × (string key | u32 value_type | value)
    n_tensors × (string name | u32 n_dims | n_dims × u64 | u32 ggml_type | u64 offset)
    padding to general.alignment (default 32) | tensor data (offsets are relative to here)

A string is ``u64 length | bytes``; an array is ``u32 element_type | u64 count | elements``.
"""

from __future__ import annotations

import mmap
import struct
from collections import Counter
from dataclasses import dataclass, field
from math import prod
from pathlib import Path
from typing import Any

from slmkit.core.errors import InvalidModelFileError

# --- format constants (all in one place) ---------------------------------------------------

MAGIC = b"GGUF"
SUPPORTED_VERSIONS = (2, 3)
DEFAULT_ALIGNMENT = 32
MAX_TENSORS = 1 << 20
MAX_KV = 1 << 16
MAX_DIMS = 4
#: Arrays longer than this (token lists, merges, scores) are not decoded; an
#: :class:`ArraySummary` stands in for them. Pass ``max_array=None`` to decode everything.
ARRAY_READ_LIMIT = 4096

# GGUF metadata value types: id -> (name, struct format or None for string/array)
VALUE_TYPES: dict[int, tuple[str, str | None]] = {
    0: ("uint8", "B"), 1: ("int8", "b"), 2: ("uint16", "H"), 3: ("int16", "h"),
    4: ("uint32", "I"), 5: ("int32", "i"), 6: ("float32", "f"), 7: ("bool", "?"),
    8: ("string", None), 9: ("array", None), 10: ("uint64", "Q"), 11: ("int64", "q"),
    12: ("float64", "d"),
}
T_STRING, T_ARRAY = 8, 9

# ggml tensor types: id -> (name, elements per block, bytes per block)
GGML_TYPES: dict[int, tuple[str, int, int]] = {
    0: ("F32", 1, 4), 1: ("F16", 1, 2), 2: ("Q4_0", 32, 18), 3: ("Q4_1", 32, 20),
    6: ("Q5_0", 32, 22), 7: ("Q5_1", 32, 24), 8: ("Q8_0", 32, 34), 9: ("Q8_1", 32, 40),
    10: ("Q2_K", 256, 84), 11: ("Q3_K", 256, 110), 12: ("Q4_K", 256, 144),
    13: ("Q5_K", 256, 176), 14: ("Q6_K", 256, 210), 15: ("Q8_K", 256, 292),
    16: ("IQ2_XXS", 256, 66), 17: ("IQ2_XS", 256, 74), 18: ("IQ3_XXS", 256, 98),
    19: ("IQ1_S", 256, 50), 20: ("IQ4_NL", 32, 18), 21: ("IQ3_S", 256, 110),
    22: ("IQ2_S", 256, 82), 23: ("IQ4_XS", 256, 136), 24: ("I8", 1, 1), 25: ("I16", 1, 2),
    26: ("I32", 1, 4), 27: ("I64", 1, 8), 28: ("F64", 1, 8), 29: ("IQ1_M", 256, 56),
    30: ("BF16", 1, 2), 34: ("TQ1_0", 256, 54), 35: ("TQ2_0", 256, 66),
    39: ("MXFP4", 32, 17), 40: ("NVFP4", 64, 36), 41: ("Q1_0", 128, 18),
}

# llama.cpp's llama_ftype (general.file_type) -> quantization name
FILE_TYPES: dict[int, str] = {
    0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1",
    10: "Q2_K", 11: "Q3_K_S", 12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M",
    16: "Q5_K_S", 17: "Q5_K_M", 18: "Q6_K", 19: "IQ2_XXS", 20: "IQ2_XS", 21: "Q2_K_S",
    22: "IQ3_XS", 23: "IQ3_XXS", 24: "IQ1_S", 25: "IQ4_NL", 26: "IQ3_S", 27: "IQ3_M",
    28: "IQ2_S", 29: "IQ2_M", 30: "IQ4_XS", 31: "IQ1_M", 32: "BF16", 36: "TQ1_0",
    37: "TQ2_0", 38: "MXFP4_MOE", 39: "NVFP4", 40: "Q1_0",
}
FILE_TYPE_GUESSED = 1024


@dataclass(frozen=True)
class ArraySummary:
    """Stands in for a metadata array too long to decode (e.g. 150k vocabulary tokens)."""

    type: str
    length: int

    def __str__(self) -> str:
        return f"[{self.length:,} × {self.type}]"


@dataclass(frozen=True)
class TensorInfo:
    """One entry of the tensor table; ``offset`` is relative to the data section."""

    name: str
    shape: tuple[int, ...]
    ggml_type: int
    offset: int

    @property
    def type_name(self) -> str:
        return GGML_TYPES.get(self.ggml_type, (f"type{self.ggml_type}", 0, 0))[0]

    @property
    def n_elements(self) -> int:
        return prod(self.shape)

    @property
    def n_bytes(self) -> int | None:
        """Size of the tensor's data, or None for a ggml type this reader does not know."""
        if self.ggml_type not in GGML_TYPES:
            return None
        _, block, size = GGML_TYPES[self.ggml_type]
        return self.n_elements // block * size


@dataclass(frozen=True)
class GGUFInfo:
    """What a GGUF file declares. ``metadata`` holds every key/value (long arrays as
    :class:`ArraySummary`); the named fields are the ones people ask about."""

    path: str
    version: int
    file_size: int
    data_offset: int
    data_size: int
    alignment: int
    metadata: dict[str, Any]
    tensors: tuple[TensorInfo, ...] = field(repr=False)

    def _arch_key(self, suffix: str) -> Any:
        return self.metadata.get(f"{self.architecture}.{suffix}")

    @property
    def architecture(self) -> str:
        return str(self.metadata.get("general.architecture", ""))

    @property
    def model_name(self) -> str:
        return str(self.metadata.get("general.name", ""))

    @property
    def licence(self) -> str | None:
        value = self.metadata.get("general.license")
        return str(value) if value is not None else None

    @property
    def context_length(self) -> int | None:
        return _as_int(self._arch_key("context_length"))

    @property
    def embedding_length(self) -> int | None:
        return _as_int(self._arch_key("embedding_length"))

    @property
    def block_count(self) -> int | None:
        return _as_int(self._arch_key("block_count"))

    @property
    def head_count(self) -> int | None:
        return _as_int(self._arch_key("attention.head_count"))

    @property
    def head_count_kv(self) -> int | None:
        return _as_int(self._arch_key("attention.head_count_kv"))

    @property
    def vocab_size(self) -> int | None:
        tokens = self.metadata.get("tokenizer.ggml.tokens")
        if tokens is not None:
            return len(tokens) if isinstance(tokens, list) else tokens.length
        return _as_int(self._arch_key("vocab_size"))

    @property
    def file_type(self) -> int | None:
        value = self.metadata.get("general.file_type")
        return int(value) & ~FILE_TYPE_GUESSED if isinstance(value, int) else None

    @property
    def quantization(self) -> str:
        """llama.cpp's name for ``general.file_type`` (Q4_K_M, Q8_0, F16, …); without that
        key, the ggml type holding most bytes among the weight matrices."""
        if self.file_type is not None:
            return FILE_TYPES.get(self.file_type, f"ftype{self.file_type}")
        weights = Counter()
        for t in self.tensors:
            if len(t.shape) >= 2:
                weights[t.type_name] += t.n_bytes or 0
        return weights.most_common(1)[0][0] if weights else ""

    @property
    def parameter_count(self) -> int:
        return sum(t.n_elements for t in self.tensors)

    @property
    def tensor_count(self) -> int:
        return len(self.tensors)

    @property
    def chat_template(self) -> str | None:
        value = self.metadata.get("tokenizer.chat_template")
        return value if isinstance(value, str) else None

    @property
    def bos_token_id(self) -> int | None:
        return _as_int(self.metadata.get("tokenizer.ggml.bos_token_id"))

    @property
    def eos_token_id(self) -> int | None:
        return _as_int(self.metadata.get("tokenizer.ggml.eos_token_id"))

    def summary(self) -> dict[str, Any]:
        """The JSON-friendly facts a manifest keeps and ``slm show`` prints."""
        return {
            "architecture": self.architecture, "name": self.model_name,
            "quantization": self.quantization, "file_type": self.file_type,
            "parameters": self.parameter_count, "context_length": self.context_length,
            "embedding_length": self.embedding_length, "block_count": self.block_count,
            "head_count": self.head_count, "head_count_kv": self.head_count_kv,
            "vocab_size": self.vocab_size, "tensor_count": self.tensor_count,
            "bos_token_id": self.bos_token_id, "eos_token_id": self.eos_token_id,
            "has_chat_template": self.chat_template is not None,
            "licence": self.licence, "gguf_version": self.version,
        }


def display_metadata(metadata: dict[str, Any], *, max_items: int = 16) -> dict[str, Any]:
    """Metadata fit for people and JSON: long arrays become ``"[49,152 × string]"``."""
    out: dict[str, Any] = {}
    for key, value in metadata.items():
        if isinstance(value, ArraySummary):
            out[key] = str(value)
        elif isinstance(value, list) and len(value) > max_items:
            kind = type(value[0]).__name__ if value else "value"
            out[key] = f"[{len(value):,} × {kind}]"
        else:
            out[key] = value
    return out


def read_gguf(path: str | Path, *, max_array: int | None = ARRAY_READ_LIMIT) -> GGUFInfo:
    """Validate ``path`` as a GGUF file and return what its header declares.

    Raises :class:`InvalidModelFileError` naming the file and the problem (wrong magic,
    unsupported version, insane counts, header past end of file, truncated tensor data).
    Arrays longer than ``max_array`` elements are summarized, not decoded.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        if size < 24:
            raise _invalid(path, f"not a GGUF file (only {size} bytes)")
        with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            return _Parser(buf, path, size, max_array).parse()
    except OSError as err:
        raise InvalidModelFileError(f"cannot read {path}: {err.strerror or err}") from err


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, list) and value and all(isinstance(v, int) for v in value):
        return max(value)  # per-layer values (e.g. OpenELM head counts)
    return None


def _invalid(path: Path, what: str, hint: str | None = None) -> InvalidModelFileError:
    return InvalidModelFileError(f"{path}: {what}", hint=hint)


_U64 = struct.Struct("<Q")


class _Truncated(Exception):
    pass


class _Parser:
    """A cursor over the mapped file; every read is bounds-checked against its size."""

    def __init__(self, buf: mmap.mmap, path: Path, size: int, max_array: int | None) -> None:
        self.buf, self.path, self.size, self.max_array = buf, path, size, max_array
        self.pos = 0

    def take(self, fmt: str) -> Any:
        n = struct.calcsize("<" + fmt)
        if self.pos + n > self.size:
            raise _Truncated
        (value,) = struct.unpack_from("<" + fmt, self.buf, self.pos)
        self.pos += n
        return value

    def skip(self, n: int) -> None:
        if n < 0 or self.pos + n > self.size:
            raise _Truncated
        self.pos += n

    def string(self) -> str:
        n = self.take("Q")
        start = self.pos
        self.skip(n)
        return bytes(self.buf[start:self.pos]).decode("utf-8", errors="replace")

    def parse(self) -> GGUFInfo:
        version, n_tensors, n_kv = self._header()
        try:
            metadata = self._metadata(n_kv)
            tensors = tuple(self._tensor_info() for _ in range(n_tensors))
        except _Truncated:
            raise _invalid(self.path, f"truncated: the header runs past the end of the file "
                           f"({self.size:,} bytes)", _REFETCH) from None
        alignment = self._alignment(metadata)
        data_offset = -(-self.pos // alignment) * alignment
        data_size = self._data_extent(tensors, alignment)
        needed = data_offset + data_size
        if self.size < needed:
            raise _invalid(self.path, f"truncated: header declares {needed:,} bytes but file "
                           f"has {self.size:,}", _REFETCH)
        return GGUFInfo(str(self.path), version, self.size, data_offset, data_size,
                        alignment, metadata, tensors)

    def _header(self) -> tuple[int, int, int]:
        magic = bytes(self.buf[:4])
        if magic != MAGIC:
            raise _invalid(self.path, f"not a GGUF file (magic {magic!r})")
        self.pos = 4
        version = self.take("I")
        if version not in SUPPORTED_VERSIONS:
            swapped = struct.unpack("<I", struct.pack(">I", version))[0]
            what = ("big-endian GGUF files are not supported" if swapped in SUPPORTED_VERSIONS
                    else f"unsupported GGUF version {version} (supported: 2, 3)")
            raise _invalid(self.path, what, "convert the model again with a current llama.cpp")
        n_tensors, n_kv = self.take("Q"), self.take("Q")
        if n_tensors > MAX_TENSORS or n_kv > MAX_KV:
            raise _invalid(self.path, f"implausible header: {n_tensors:,} tensors, "
                           f"{n_kv:,} metadata keys (corrupt file?)")
        return version, n_tensors, n_kv

    def _metadata(self, n_kv: int) -> dict[str, Any]:
        metadata: dict[str, Any] = {}
        for _ in range(n_kv):
            key = self.string()
            metadata[key] = self._value(self.take("I"), key)
        return metadata

    def _value(self, vtype: int, key: str) -> Any:
        if vtype == T_STRING:
            return self.string()
        if vtype == T_ARRAY:
            return self._array(key)
        if vtype not in VALUE_TYPES:
            raise _invalid(self.path, f"metadata key {key!r} has unknown value type {vtype}")
        return self.take(VALUE_TYPES[vtype][1])

    def _array(self, key: str) -> Any:
        etype, count = self.take("I"), self.take("Q")
        if etype not in VALUE_TYPES or etype == T_ARRAY and count:
            raise _invalid(self.path, f"metadata array {key!r} has unsupported element type "
                           f"{etype}")
        name, fmt = VALUE_TYPES[etype]
        if count > self.size - self.pos:  # every element takes at least one byte
            raise _Truncated
        decode = self.max_array is None or count <= self.max_array
        if fmt is not None:
            width = struct.calcsize(fmt)
            if not decode:
                self.skip(width * count)
                return ArraySummary(name, count)
            start = self.pos
            self.skip(width * count)
            return list(struct.unpack_from(f"<{count}{fmt}", self.buf, start))
        if decode:
            return [self.string() for _ in range(count)]
        self._skip_strings(count)
        return ArraySummary(name, count)

    def _skip_strings(self, count: int) -> None:
        """Walk ``count`` length-prefixed strings without decoding them: a tokenizer's 150k
        entries in a tight loop (through :meth:`take` this cost ~1 s per model load)."""
        unpack, buf, size, pos = _U64.unpack_from, self.buf, self.size, self.pos
        for _ in range(count):
            if pos + 8 > size:
                raise _Truncated
            pos += 8 + unpack(buf, pos)[0]
        if pos > size:
            raise _Truncated
        self.pos = pos

    def _tensor_info(self) -> TensorInfo:
        name = self.string()
        n_dims = self.take("I")
        if n_dims > MAX_DIMS:
            raise _invalid(self.path, f"tensor {name!r} has {n_dims} dimensions (max {MAX_DIMS})")
        shape = tuple(self.take("Q") for _ in range(n_dims))
        ggml_type, offset = self.take("I"), self.take("Q")
        info = TensorInfo(name, shape, ggml_type, offset)
        block = GGML_TYPES.get(ggml_type, ("", 1, 0))[1]
        if shape and shape[0] % block:
            raise _invalid(self.path, f"tensor {name!r}: row of {shape[0]} elements is not a "
                           f"multiple of the {info.type_name} block size {block}")
        return info

    def _alignment(self, metadata: dict[str, Any]) -> int:
        alignment = metadata.get("general.alignment", DEFAULT_ALIGNMENT)
        if not isinstance(alignment, int) or alignment <= 0 or alignment & (alignment - 1):
            raise _invalid(self.path, f"general.alignment {alignment!r} is not a power of two")
        return alignment

    def _data_extent(self, tensors: tuple[TensorInfo, ...], alignment: int) -> int:
        """Bytes from the data section's start to the end of the last tensor."""
        extent = 0
        for t in tensors:
            if t.offset % alignment:
                raise _invalid(self.path, f"tensor {t.name!r} offset {t.offset} is not "
                               f"aligned to {alignment}")
            extent = max(extent, t.offset + (t.n_bytes or 0))  # unknown type: offset only
        return extent


_REFETCH = "the file is incomplete (interrupted download?); fetch it again"
