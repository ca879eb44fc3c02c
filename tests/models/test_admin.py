"""``models.admin.StoreAdmin``: what the web UI's models page shows and does."""

from __future__ import annotations

import pytest

from helpers.gguf_builder import build_tiny_gguf
from slmkit.models.admin import StoreAdmin
from slmkit.models.store import Store


def test_pull_takes_catalog_names_only(tmp_path):
    admin = StoreAdmin(Store(tmp_path / "store"))
    path = str(build_tiny_gguf(tmp_path / "src" / "base.gguf"))
    for spec in (path, "pypi:somepkg==1.0#model.gguf", "smollm2-135m-instruc"):
        with pytest.raises(ValueError, match="catalog models only"):
            admin.pull(spec, lambda done, total: None)
    assert admin.stored() == []


def test_lists_with_lineage_and_removes(tmp_path):
    store = Store(tmp_path / "store")
    admin = StoreAdmin(store)
    store.pull(str(build_tiny_gguf(tmp_path / "src" / "base.gguf")))
    with store.derive("base-copy", parent="base", method="copy") as d:
        (d.dir / "model.gguf").write_bytes(store.blob_path("base").read_bytes())
    rows = {r["name"]: r for r in admin.stored()}
    assert rows["base-copy"]["parent"] == "base" and rows["base-copy"]["method"] == "copy"
    assert admin.remove("base-copy") == 0  # same bytes as "base": the blob is shared
    assert [r["name"] for r in admin.stored()] == ["base"]


def test_catalog_says_what_fits_and_what_is_stored(tmp_path):
    rows = StoreAdmin(Store(tmp_path / "store")).catalog()
    assert rows and all({"name", "memory_bytes", "fits", "stored"} <= set(r) for r in rows)
    assert not any(r["stored"] for r in rows)
    smallest = min(rows, key=lambda r: r["memory_bytes"])
    assert smallest["fits"] is True  # a ~100 MB model fits any machine that runs the tests
