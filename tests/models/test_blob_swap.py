"""Putting a blob in place never leaves a moment where the blob a manifest names is
missing (issue 13: the directory swap moved the old tree away, then the new one in; a crash
in between left the manifest pointing at nothing)."""

from __future__ import annotations

import os

import pytest

from slmkit.models import blobs


def tree(root, files: dict[str, bytes]):
    for rel, data in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    return root


def listing(root) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}


def test_a_crash_while_replacing_a_tree_leaves_the_blob_in_place(tmp_path, monkeypatch):
    good = {"config.json": b"{}", "model.safetensors": b"weights", "sub/tok.json": b"t"}
    blob = tree(tmp_path / "blobs" / "tree-abc", {**good, "model.safetensors": b"corrupt"})
    staged = tree(tmp_path / "tmp" / "model", good)
    real, calls = os.replace, []

    def crash_on_second(src, dst):
        calls.append((src, dst))
        if len(calls) == 2:
            raise OSError("simulated crash")
        return real(src, dst)

    monkeypatch.setattr(blobs.os, "replace", crash_on_second)
    with pytest.raises(OSError, match="simulated crash"):
        blobs.put_blob(staged, blob)
    monkeypatch.setattr(blobs.os, "replace", real)
    assert blob.is_dir() and set(listing(blob)) == set(good)  # every file still there
    staged = tree(tmp_path / "tmp2" / "model", good)  # the re-run (pull --force) stages anew
    blobs.put_blob(staged, blob)
    assert listing(blob) == good and not staged.exists()


def test_replacing_a_tree_drops_files_the_new_tree_lacks(tmp_path):
    blob = tree(tmp_path / "b", {"a": b"1", "stray/x": b"2"})
    staged = tree(tmp_path / "s", {"a": b"1"})
    blobs.put_blob(staged, blob)
    assert listing(blob) == {"a": b"1"} and not (blob / "stray").exists()


def test_a_new_tree_or_file_is_moved_in_whole(tmp_path):
    staged = tree(tmp_path / "s", {"a": b"1"})
    blobs.put_blob(staged, tmp_path / "tree-1")
    assert listing(tmp_path / "tree-1") == {"a": b"1"}
    (tmp_path / "f").write_bytes(b"x")
    blobs.put_blob(tmp_path / "f", tmp_path / "sha256-1")
    assert (tmp_path / "sha256-1").read_bytes() == b"x"
