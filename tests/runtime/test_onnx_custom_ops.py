"""An ONNX model directory cannot make us load a native library: a ``genai_config.json``
naming ``custom_ops_library`` (anywhere) is refused before ONNX Runtime sees it."""

from __future__ import annotations

import json

import pytest

from slmkit.core.errors import InvalidModelFileError
from slmkit.runtime.onnx.engine import open_engine, read_genai_config


def write(tmp_path, config: dict):
    (tmp_path / "genai_config.json").write_text(json.dumps(config))
    return tmp_path


@pytest.mark.parametrize("options", [
    {"custom_ops_library": "/tmp/evil.so"},
    {"provider_options": [{"cpu": {"custom_ops_library": "evil.so"}}]},
])
def test_custom_ops_library_is_refused(tmp_path, options):
    root = write(tmp_path, {"model": {"decoder": {"session_options": options}}})
    with pytest.raises(InvalidModelFileError, match="native library"):
        read_genai_config(root)
    with pytest.raises(InvalidModelFileError, match="evil.so"):
        open_engine(str(root))


def test_an_ordinary_config_reads(tmp_path):
    root = write(tmp_path, {"model": {"decoder": {"session_options": {"log_id": "x"}},
                                      "context_length": 64}})
    assert read_genai_config(root)["model"]["context_length"] == 64
