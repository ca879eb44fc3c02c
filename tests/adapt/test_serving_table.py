"""`--adapter NAME=PATH` parsing and the BASE+NAME table the server uses."""

from __future__ import annotations

import pytest

from slmkit.adapt.serving import AdapterTable, adapter_file, parse_adapter_arg
from slmkit.core.errors import SlmError


def test_names_paths_and_bases(tmp_path):
    gguf = tmp_path / "a.gguf"
    gguf.write_bytes(b"GGUF")
    out = tmp_path / "run"
    out.mkdir()
    (out / "adapter.gguf").write_bytes(b"GGUF")
    specs = [parse_adapter_arg(f"tone={gguf}"), parse_adapter_arg(f"qwen+sql={out}")]
    assert specs[1].base == "qwen" and specs[1].path == str(out / "adapter.gguf")
    table = AdapterTable(specs, default_base="smol")
    assert table.view("smol+tone") == ("smol", "tone")
    assert table.view("qwen+sql") == ("qwen", "sql")
    assert table.view("smol") is None and table.view("smol+sql") is None
    assert table.for_base("smol") == {"tone": str(gguf)}
    assert sorted(table.names()) == [("qwen+sql", "qwen"), ("smol+tone", "smol")]
    with pytest.raises(ValueError, match="given twice"):
        AdapterTable(specs + [parse_adapter_arg(f"tone={gguf}")], default_base="smol")


def test_bad_adapter_args(tmp_path):
    with pytest.raises(ValueError, match="NAME=PATH"):
        parse_adapter_arg("just-a-name")
    with pytest.raises(SlmError, match="no such adapter"):
        parse_adapter_arg(f"x={tmp_path / 'missing.gguf'}")
    (tmp_path / "adapter_config.json").write_text("{}")
    with pytest.raises(SlmError, match="no adapter.gguf") as err:
        adapter_file(tmp_path)
    assert "--adapter-gguf" in err.value.hint
