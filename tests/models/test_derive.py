"""`Store.derive`: a model made here is registered with its lineage, or not at all."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from helpers.gguf_builder import build_tiny_gguf
from slmkit.core.errors import InvalidModelFileError
from slmkit.models.gguf_file import read_gguf
from slmkit.models.store import ModelExistsError, Store


@pytest.fixture
def store(tmp_path) -> Store:
    st = Store(tmp_path / "home")
    st.pull(str(build_tiny_gguf(tmp_path / "src" / "base.gguf")))  # stored as "base"
    return st


def leftovers(store: Store) -> list[str]:
    return sorted(p.name for p in store.tmp.iterdir()) if store.tmp.exists() else []


def test_a_file_is_registered_with_lineage_and_readable(store, tmp_path):
    with store.derive("base-copy", parent="base", method="test:copy",
                      params={"type": "F32", "tokens": 16}) as d:
        assert d.dir.parent == store.tmp and d.dir.is_dir()
        (d.dir / "model.gguf").write_bytes(Path(store.get("base").path).read_bytes())
        assert not store.has("base-copy")  # nothing visible before the block ends
    ref = d.ref
    assert ref is not None and ref.name == "base-copy" and store.has("base-copy")
    data = Path(ref.path).read_bytes()
    assert ref.sha256 == hashlib.sha256(data).hexdigest() == store.get("base").sha256
    assert read_gguf(ref.path).summary()["architecture"] == "llama"
    m = store.manifest("base-copy")
    assert (m["parent"], m["method"]) == ("base", "test:copy")
    assert m["params"] == {"type": "F32", "tokens": 16} and m["created"]
    assert m["digest"] == "file" and m["kind"] == "llm"
    assert m["licence"] == store.manifest("base")["licence"] == "apache-2.0"
    assert store.verify("base-copy").sha256 == ref.sha256
    assert leftovers(store) == []


def test_a_directory_is_registered_with_a_tree_digest(store):
    with store.derive("base-dir", parent="base", method="test:dir") as d:
        (d.dir / "config.json").write_text('{"a": 1}')
        (d.dir / "weights.bin").write_bytes(b"\0" * 10)
        d.method = "test:dir+refined"  # known only once the work is done
    m = store.manifest("base-dir")
    assert m["digest"] == "tree" and m["kind"] == "directory" and m["method"] == "test:dir+refined"
    assert sorted(f["path"] for f in m["files"]) == ["config.json", "weights.bin"]
    assert json.loads((Path(d.ref.path) / "config.json").read_text()) == {"a": 1}
    assert store.verify("base-dir").sha256 == m["sha256"]


def test_an_exception_leaves_nothing(store):
    before = sorted(p.name for p in store.blobs.iterdir())
    with pytest.raises(RuntimeError, match="boom"):
        with store.derive("broken", parent="base", method="test:fail") as d:
            (d.dir / "model.gguf").write_bytes(b"half a model")
            raise RuntimeError("boom")
    assert not store.has("broken") and not d.dir.exists()
    assert not (store.manifests / "broken.json").exists()
    assert sorted(p.name for p in store.blobs.iterdir()) == before
    assert leftovers(store) == [] and d.ref is None


def test_an_invalid_gguf_is_refused_and_cleaned_up(store):
    with pytest.raises(InvalidModelFileError):
        with store.derive("garbage", parent="base", method="test:bad") as d:
            (d.dir / "model.gguf").write_bytes(b"not a gguf at all")
    assert not store.has("garbage") and leftovers(store) == []


@pytest.mark.parametrize("name", ["../evil", "a/../../b", "..", "/abs", "a/b", "UP", ""])
def test_unsafe_names_are_refused_before_anything_is_made(store, name):
    with pytest.raises(ValueError, match="invalid model name"):
        with store.derive(name, parent="base", method="test"):
            pytest.fail("the block must not run")
    assert leftovers(store) == []
    assert not (store.root.parent / "evil").exists()


def test_overwrite_is_refused_unless_asked(store):
    digest = store.get("base").sha256
    with pytest.raises(ModelExistsError, match="already in the store"):
        with store.derive("base", parent=None, method="test"):
            pytest.fail("the block must not run")
    assert store.get("base").sha256 == digest
    with store.derive("base", parent=None, method="test:replace", overwrite=True) as d:
        build_tiny_gguf(d.dir / "m.gguf", n_embd=16)
    assert store.get("base").sha256 != digest and store.manifest("base")["method"] == "test:replace"
    assert len(list(store.blobs.iterdir())) == 1  # the replaced blob was collected


def test_empty_result_and_bad_params_are_errors(store):
    with pytest.raises(Exception, match="wrote nothing"):
        with store.derive("empty", parent="base", method="test"):
            pass
    with pytest.raises(ValueError, match="JSON-serializable"):
        with store.derive("odd", parent="base", method="test", params={"x": object()}):
            pass
    assert not store.has("empty") and not store.has("odd") and leftovers(store) == []


def test_manifests_written_before_params_existed_still_read(store):
    path = store.manifests / "base.json"
    m = json.loads(path.read_text())
    del m["params"]
    path.write_text(json.dumps(m))
    assert store.get("base").name == "base" and store.manifest("base").get("params") is None
    assert [r.name for r in store.list()] == ["base"]
