"""read_gguf: header parsing, metadata, and the clear errors for files that are not models."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

from helpers.gguf_builder import CHAT_TEMPLATE, build_tiny_gguf, expected_params  # noqa: E402
from slmkit.core.errors import InvalidModelFileError  # noqa: E402
from slmkit.models.gguf_file import (  # noqa: E402
    ArraySummary,
    display_metadata,
    read_gguf,
)


@pytest.fixture
def tiny(tmp_path) -> Path:
    return build_tiny_gguf(tmp_path / "tiny.gguf")


def test_reads_named_fields(tiny):
    info = read_gguf(tiny)
    assert info.version == 3
    assert info.architecture == "llama" and info.model_name == "tiny"
    assert (info.context_length, info.embedding_length, info.block_count) == (256, 8, 2)
    assert (info.head_count, info.head_count_kv) == (2, 1)
    assert info.vocab_size == 32
    assert info.quantization == "F32" and info.file_type == 0
    assert info.parameter_count == expected_params()
    assert info.tensor_count == 4
    assert info.chat_template == CHAT_TEMPLATE
    assert (info.bos_token_id, info.eos_token_id) == (1, 2)
    assert info.licence == "apache-2.0"
    assert info.data_offset % info.alignment == 0
    assert info.data_offset + info.data_size == info.file_size == tiny.stat().st_size


def test_summary_is_json_ready(tiny):
    summary = read_gguf(tiny).summary()
    assert json.loads(json.dumps(summary)) == summary
    assert summary["parameters"] == expected_params() and summary["has_chat_template"]


def test_tensor_table(tiny):
    tensors = {t.name: t for t in read_gguf(tiny).tensors}
    emb = tensors["token_embd.weight"]
    assert emb.type_name == "F32" and emb.n_elements == 32 * 8 and emb.n_bytes == 32 * 8 * 4


@pytest.mark.parametrize("ftype, name", [(1, "F16"), (2, "Q4_0"), (3, "Q4_1"), (7, "Q8_0"),
                                         (15, "Q4_K_M"), (18, "Q6_K"), (32, "BF16"),
                                         (15 | 1024, "Q4_K_M"), (999, "ftype999")])
def test_file_type_names(tmp_path, ftype, name):
    info = read_gguf(build_tiny_gguf(tmp_path / "q.gguf", file_type=ftype))
    assert info.quantization == name


def test_quantization_guessed_from_tensors_without_file_type(tmp_path):
    info = read_gguf(build_tiny_gguf(tmp_path / "q.gguf", file_type=None))
    assert info.file_type is None and info.quantization == "F32"


def test_long_arrays_are_summarized(tmp_path):
    path = build_tiny_gguf(tmp_path / "big.gguf", extra_tokens=5000)
    info = read_gguf(path)
    tokens = info.metadata["tokenizer.ggml.tokens"]
    assert isinstance(tokens, ArraySummary) and tokens.length == 5032
    assert info.vocab_size == 5032
    assert display_metadata(info.metadata)["tokenizer.ggml.tokens"] == "[5,032 × string]"
    full = read_gguf(path, max_array=None).metadata["tokenizer.ggml.tokens"]
    assert full[:2] == ["tok0", "tok1"] and len(full) == 5032
    # Everything after the skipped arrays still parses (the chat template comes later).
    assert info.chat_template == CHAT_TEMPLATE


def test_display_metadata_shortens_lists():
    shown = display_metadata({"a": list(range(100)), "b": [1, 2], "c": "x"}, max_items=16)
    assert shown == {"a": "[100 × int]", "b": [1, 2], "c": "x"}


def test_wrong_magic_names_file_and_magic(tmp_path):
    path = tmp_path / "model.gguf"
    path.write_bytes(b"PK\x03\x04" + bytes(100))
    with pytest.raises(InvalidModelFileError) as err:
        read_gguf(path)
    assert str(path) in err.value.message
    assert "not a GGUF file (magic b'PK\\x03\\x04')" in err.value.message


@pytest.mark.parametrize("content", [b"", b"GGUF", b"GGUF\x03\x00\x00\x00"])
def test_tiny_files(tmp_path, content):
    path = tmp_path / "x.gguf"
    path.write_bytes(content)
    with pytest.raises(InvalidModelFileError, match="not a GGUF file"):
        read_gguf(path)


def test_missing_file(tmp_path):
    with pytest.raises(InvalidModelFileError, match="cannot read"):
        read_gguf(tmp_path / "absent.gguf")


def _patch(path: Path, offset: int, fmt: str, value: int) -> None:
    data = bytearray(path.read_bytes())
    struct.pack_into(fmt, data, offset, value)
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("version, message", [
    (1, "unsupported GGUF version 1"), (4, "unsupported GGUF version 4"),
    (0x03000000, "big-endian GGUF files are not supported"),
])
def test_bad_versions(tiny, version, message):
    _patch(tiny, 4, "<I", version)
    with pytest.raises(InvalidModelFileError, match=message):
        read_gguf(tiny)


@pytest.mark.parametrize("offset", [8, 16])  # n_tensors, n_kv
def test_implausible_counts(tiny, offset):
    _patch(tiny, offset, "<Q", 1 << 40)
    with pytest.raises(InvalidModelFileError, match="implausible header"):
        read_gguf(tiny)


def test_truncated_tensor_data_reports_both_sizes(tiny):
    full = tiny.stat().st_size
    with open(tiny, "r+b") as f:
        f.truncate(full - 100)
    with pytest.raises(InvalidModelFileError) as err:
        read_gguf(tiny)
    assert f"truncated: header declares {full:,} bytes but file has {full - 100:,}" \
        in err.value.message
    assert str(tiny) in err.value.message and "fetch it again" in err.value.hint


def test_truncated_inside_header(tiny):
    with open(tiny, "r+b") as f:
        f.truncate(200)
    with pytest.raises(InvalidModelFileError, match="truncated: the header runs past the end"):
        read_gguf(tiny)


def test_huge_string_length_is_caught(tiny):
    _patch(tiny, 24, "<Q", 1 << 50)  # length of the first key
    with pytest.raises(InvalidModelFileError, match="truncated"):
        read_gguf(tiny)


def _declare_big_model(path: Path, n_bytes: int) -> int:
    """A GGUF whose header declares one F32 tensor of n_bytes; no data written. Returns the
    size the header declares (data offset + tensor bytes)."""
    import gguf
    import numpy as np

    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_tensor_info("w", (n_bytes // 4,), np.dtype(np.float32), n_bytes)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    writer.close()
    return -(-path.stat().st_size // 32) * 32 + n_bytes


def _page_faults() -> int:
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_minflt + usage.ru_majflt


def test_large_sparse_file_is_read_without_touching_its_data(tmp_path):
    path = tmp_path / "big.gguf"
    declared = _declare_big_model(path, 4 << 30)
    with open(path, "r+b") as f:
        f.truncate(declared)  # sparse: 4 GiB that cost nothing to write
    read_gguf(path)  # the first call's one-time costs (imports, caches) are not counted
    before = _page_faults()
    info = read_gguf(path)
    touched = _page_faults() - before
    # Mapping or reading 4 GiB faults in thousands of pages (over 8,000 here, with the
    # kernel's fault-around); the header is a few.
    assert touched < 200, f"{touched} page faults: read_gguf touched the tensor data"
    assert info.data_offset + info.data_size == declared == info.file_size
    with open(path, "r+b") as f:
        f.truncate(declared - 1)
    with pytest.raises(InvalidModelFileError, match=f"declares {declared:,} bytes"):
        read_gguf(path)
