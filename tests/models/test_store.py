"""The local store: verified, atomic, concurrent-safe pulls; names; remove; verify; resolve."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

pytest_plugins = ["helpers.fixtures"]
from helpers.gguf_builder import build_tiny_gguf  # noqa: E402
from slmkit.core.errors import (  # noqa: E402
    ChecksumError,
    InvalidModelFileError,
    ModelNotFoundError,
    SourceError,
)
from slmkit.models import catalog  # noqa: E402
from slmkit.models.store import Store, validate_name  # noqa: E402


@pytest.fixture
def store(tmp_path) -> Store:
    return Store(tmp_path / "home")


@pytest.fixture
def gguf(tmp_path) -> Path:
    return build_tiny_gguf(tmp_path / "src" / "Tiny.gguf")


@pytest.fixture
def big_gguf(tmp_path) -> Path:
    """About 5 MB: several 1 MiB copy chunks, so a pull can be interrupted half-way."""
    return build_tiny_gguf(tmp_path / "src" / "big.gguf", n_embd=64, extra_tokens=20000)


def visible(store: Store) -> tuple[list[str], list[str]]:
    manifests = sorted(p.name for p in store.manifests.glob("*.json"))
    blobs = sorted(p.name for p in store.blobs.iterdir()) if store.blobs.exists() else []
    return manifests, blobs


def staging_dirs(store: Store) -> list[Path]:
    return list(store.tmp.iterdir()) if store.tmp.exists() else []


# --- pulling ---------------------------------------------------------------------------------


def test_pull_local_file_copies_and_registers(store, gguf):
    import hashlib

    ref = store.pull(str(gguf))
    digest = hashlib.sha256(gguf.read_bytes()).hexdigest()
    assert ref.name == "tiny" and ref.sha256 == digest and ref.size_bytes == gguf.stat().st_size
    assert Path(ref.path) == store.blobs / f"sha256-{digest}"
    assert Path(ref.path).read_bytes() == gguf.read_bytes()
    m = store.manifest("tiny")
    assert m["kind"] == "llm" and m["source"] == f"file:{gguf}" and m["digest"] == "file"
    assert m["gguf"]["architecture"] == "llama" and m["gguf"]["quantization"] == "F32"
    assert m["files"] == [{"path": "Tiny.gguf", "size": ref.size_bytes, "sha256": digest}]
    assert m["parent"] is None and m["method"] is None and m["licence"] == "apache-2.0"
    assert staging_dirs(store) == []


def test_pull_twice_is_a_no_op_unless_forced(store, gguf):
    store.pull(str(gguf))
    created = store.manifest("tiny")["created"]
    events = []
    store.pull(str(gguf), progress=lambda *e: events.append(e))
    assert events == [] and store.manifest("tiny")["created"] == created
    store.pull(str(gguf), force=True, progress=lambda *e: events.append(e))
    assert events  # fetched again


def test_force_pull_replaces_and_collects_the_old_blob(store, tmp_path):
    path = build_tiny_gguf(tmp_path / "m.gguf", seed=1)
    old = store.pull(str(path))
    build_tiny_gguf(path, seed=2)
    new = store.pull(str(path), force=True)
    assert new.sha256 != old.sha256 and visible(store)[1] == [Path(new.path).name]


def test_pull_name_override_and_pin(store, gguf):
    import hashlib

    digest = hashlib.sha256(gguf.read_bytes()).hexdigest()
    ref = store.pull(str(gguf), name="mine:v1", sha256=f"sha256:{digest.upper()}")
    assert ref.name == "mine:v1" and store.get("mine:v1") == ref


def test_pull_pypi_single(store, pip_offline):
    ref = store.pull(pip_offline.single, sha256=pip_offline.gguf_sha256)
    assert ref.name == "tiny-model.q8_0" and ref.sha256 == pip_offline.gguf_sha256
    assert store.manifest(ref.name)["gguf"]["quantization"] == "Q8_0"


def test_pull_multi_part_assembled_in_order_and_verified(store, pip_offline):
    ref = store.pull(pip_offline.parts, name="parts", sha256=pip_offline.gguf_sha256)
    assert Path(ref.path).read_bytes() == pip_offline.gguf
    assert store.verify("parts") == ref


def test_pull_directory_with_tree_digest(store, pip_offline):
    ref = store.pull(pip_offline.directory, name="embed", sha256=pip_offline.tree_sha256())
    assert Path(ref.path).is_dir() and Path(ref.path).name == f"tree-{ref.sha256}"
    m = store.manifest("embed")
    assert m["digest"] == "tree" and m["gguf"] is None and m["kind"] == "directory"
    assert sorted(f["path"] for f in m["files"]) == sorted(pip_offline.files)
    assert store.verify("embed") == ref and store.resolve("embed") == ref


def test_checksum_mismatch_registers_nothing(store, pip_offline):
    wrong = "0" * 64
    with pytest.raises(ChecksumError) as err:
        store.pull(pip_offline.single, name="bad", sha256=wrong)
    text = str(err.value)
    assert "Tiny-Model.Q8_0.gguf" in text and wrong in text and pip_offline.gguf_sha256 in text
    assert "slm pull bad --force" in err.value.hint
    assert visible(store) == ([], []) and staging_dirs(store) == []


def test_parts_in_the_wrong_order_fail_the_pin(store, pip_offline):
    swapped = " + ".join(reversed(pip_offline.part_specs))
    with pytest.raises(ChecksumError):
        store.pull(swapped, name="swapped", sha256=pip_offline.gguf_sha256)
    assert visible(store) == ([], [])


def test_truncated_gguf_is_refused(store, gguf):
    data = gguf.read_bytes()
    gguf.write_bytes(data[:-64])
    with pytest.raises(InvalidModelFileError) as err:
        store.pull(str(gguf))
    assert "truncated: header declares" in err.value.message
    assert "Tiny.gguf" in err.value.message and str(store.tmp) not in err.value.message
    assert visible(store) == ([], []) and staging_dirs(store) == []


def test_non_gguf_is_refused(store, tmp_path):
    path = tmp_path / "model.gguf"
    path.write_bytes(b"PK\x03\x04" + bytes(64))
    with pytest.raises(InvalidModelFileError, match=r"not a GGUF file \(magic b'PK\\x03\\x04'\)"):
        store.pull(str(path))
    assert visible(store) == ([], [])


def test_failure_mid_fetch_leaves_nothing_visible(store, big_gguf):
    def explode(task, done, total):
        if 0 < done < (total or 0):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        store.pull(str(big_gguf), progress=explode)
    assert visible(store) == ([], []) and staging_dirs(store) == []


KILL_SCRIPT = """
import os, signal, sys
from slmkit.models.store import Store
def progress(task, done, total):
    if 0 < done < (total or 0):
        os.kill(os.getpid(), signal.SIGKILL)
Store(sys.argv[1]).pull(sys.argv[2], progress=progress)
"""


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_killed_pull_leaves_nothing_visible_and_is_cleaned_up(store, big_gguf):
    proc = subprocess.run([sys.executable, "-c", KILL_SCRIPT, str(store.root), str(big_gguf)])
    assert proc.returncode == -9
    assert visible(store) == ([], [])
    assert len(staging_dirs(store)) == 1  # the dead pull's partial file, invisible
    ref = store.pull(str(big_gguf))
    assert store.verify(ref.name) == ref and staging_dirs(store) == []


RACE_SCRIPT = """
import json, sys, time
from slmkit.models.store import Store
waited = []
def slow(task, done, total):
    waited.append(task.startswith("waiting"))
    time.sleep(0.25)
ref = Store(sys.argv[1]).pull(sys.argv[2], progress=slow)
print(json.dumps({"sha256": ref.sha256, "path": ref.path, "waited": any(waited)}))
"""


def test_two_processes_pulling_one_model_leave_one_good_copy(store, big_gguf):
    procs = [subprocess.Popen([sys.executable, "-c", RACE_SCRIPT, str(store.root), str(big_gguf)],
                              stdout=subprocess.PIPE, text=True) for _ in range(2)]
    results = [json.loads(p.communicate(timeout=120)[0]) for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert results[0]["sha256"] == results[1]["sha256"]
    assert results[0]["path"] == results[1]["path"]
    assert any(r["waited"] for r in results)  # the second really ran into the first
    assert visible(store) == (["big.json"], [Path(results[0]["path"]).name])
    assert staging_dirs(store) == [] and store.verify("big")


def test_two_threads_pulling_one_model(store, big_gguf):
    refs, errors = [], []

    def pull():
        try:
            refs.append(store.pull(str(big_gguf), progress=lambda *e: None))
        except Exception as err:  # pragma: no cover - reported below
            errors.append(err)

    threads = [threading.Thread(target=pull) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and refs[0] == refs[1] and len(visible(store)[1]) == 1


# --- names -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["../evil", "a/b", "a\\b", "/abs", "Upper", "", ".hidden",
                                  "a..b", "x" * 129, "-dash", "sp ace", "nul\x00"])
def test_bad_names_are_rejected(store, gguf, name):
    with pytest.raises(ValueError, match="invalid model name"):
        validate_name(name)
    with pytest.raises(ValueError):
        store.pull(str(gguf), name=name)
    assert visible(store) == ([], [])


@pytest.mark.parametrize("name", ["qwen2.5-coder-0.5b-instruct", "smollm2:135m", "a", "x+y_z",
                                  "9" * 128])
def test_good_names(name):
    assert validate_name(name) == name


def test_lookups_cannot_escape_the_store(store):
    for name in ("../../etc/passwd", "..", "/etc/passwd"):
        with pytest.raises((ValueError, ModelNotFoundError)):
            store.get(name)
        with pytest.raises((ValueError, ModelNotFoundError)):
            store.remove(name)


# --- get, list, remove, verify ---------------------------------------------------------------


def test_get_unknown_suggests_catalog_and_stored_names(store, gguf):
    store.pull(str(gguf), name="my-tiny")
    with pytest.raises(ModelNotFoundError) as err:
        store.get("my-tinyy")
    assert "my-tiny" in err.value.suggestions
    with pytest.raises(ModelNotFoundError) as err:
        store.get("smollm2-135m-instrct")
    assert "smollm2-135m-instruct" in err.value.suggestions


def test_list_and_case_insensitive_get(store, gguf):
    store.pull(str(gguf), name="b-model")
    store.pull(str(gguf), name="a-model")
    assert [r.name for r in store.list()] == ["a-model", "b-model"]
    assert store.get("A-Model").name == "a-model"
    assert Store(store.root / "nowhere").list() == []


def test_remove_keeps_shared_blobs(store, gguf):
    a = store.pull(str(gguf), name="a")
    b = store.pull(str(gguf), name="b")
    assert a.path == b.path
    assert store.remove("a") == 0 and Path(b.path).exists()
    assert store.remove("b") == a.size_bytes and not Path(b.path).exists()
    assert visible(store) == ([], [])
    with pytest.raises(ModelNotFoundError):
        store.remove("a")


def test_verify_detects_corruption(store, gguf):
    ref = store.pull(str(gguf))
    data = bytearray(Path(ref.path).read_bytes())
    data[-1] ^= 0xFF  # same size: only a re-hash can tell
    Path(ref.path).write_bytes(bytes(data))
    with pytest.raises(ChecksumError) as err:
        store.verify("tiny")
    assert err.value.expected == ref.sha256 and err.value.actual != ref.sha256
    assert ref.path in str(err.value) and "slm pull tiny --force" in err.value.hint


def test_forced_pull_repairs_a_corrupted_blob(store, gguf):
    ref = store.pull(str(gguf))
    Path(ref.path).write_bytes(b"\0" * ref.size_bytes)
    with pytest.raises(ChecksumError):
        store.verify("tiny")
    assert store.pull("tiny", force=True) == ref  # a stored name is fetched from its source
    assert store.verify("tiny") == ref


def test_verify_detects_a_changed_tree_and_force_repairs_it(store, pip_offline):
    ref = store.pull(pip_offline.directory, name="embed")
    (Path(ref.path) / "extra.txt").write_text("added")
    with pytest.raises(ChecksumError):
        store.verify("embed")
    store.pull("embed", force=True)
    assert store.verify("embed") == ref and len(visible(store)[1]) == 1


def test_progress_on_a_rich_console(store, gguf):
    import io

    from rich.console import Console

    out = io.StringIO()
    ref = store.pull(str(gguf), progress=Console(file=out, force_terminal=True, width=100))
    assert ref.name == "tiny" and "copy Tiny.gguf" in out.getvalue()


def test_resolve_checks_size(store, gguf):
    ref = store.pull(str(gguf))
    with open(ref.path, "ab") as f:
        f.write(b"junk")
    with pytest.raises(InvalidModelFileError, match="changed on disk"):
        store.resolve("tiny")
    os.remove(ref.path)
    with pytest.raises(InvalidModelFileError, match="is missing"):
        store.resolve("tiny")
    assert store.pull(str(gguf)).sha256 == ref.sha256  # a pull repairs a missing blob
    assert store.resolve("tiny") == ref


# --- resolve and the catalog -----------------------------------------------------------------


def test_resolve_path_in_place(store, gguf):
    ref = store.resolve(str(gguf))
    assert ref.path == str(gguf) and ref.name == "Tiny" and ref.sha256 is None
    assert visible(store) == ([], [])


def test_resolve_invalid_file_in_place(store, tmp_path):
    path = tmp_path / "broken.gguf"
    path.write_bytes(b"nope" * 10)
    with pytest.raises(InvalidModelFileError, match="not a GGUF file"):
        store.resolve(str(path))


def test_resolve_unknown(store, tmp_path):
    with pytest.raises(ModelNotFoundError) as err:
        store.resolve("qwen2.5-coder-0.5b-instrukt")
    assert "qwen2.5-coder-0.5b-instruct" in err.value.suggestions
    with pytest.raises(ModelNotFoundError, match="not found") as err:
        store.resolve(str(tmp_path / "absent.gguf"))
    assert "no such file" in err.value.hint


@pytest.fixture
def fake_catalog(monkeypatch, pip_offline):
    """The default catalog entry, pointed at the tiny wheel (pinned)."""
    real = catalog.default_model()
    entry = dataclasses.replace(real, source=pip_offline.single, sha256=pip_offline.gguf_sha256)
    real_get = catalog.get
    monkeypatch.setattr(catalog, "get",
                        lambda name: entry if real_get(name) is real else real_get(name))
    monkeypatch.setattr(catalog, "default_model", lambda: entry)
    return entry


def test_pull_catalog_name_uses_pinned_source(store, fake_catalog):
    ref = store.pull(fake_catalog.name)
    assert ref.name == fake_catalog.name and ref.sha256 == fake_catalog.sha256
    m = store.manifest(fake_catalog.name)
    assert m["licence"] == fake_catalog.licence and m["kind"] == "llm"
    if fake_catalog.aliases:
        assert store.get(fake_catalog.aliases[0]) == ref


def test_pull_catalog_name_with_bad_pin(store, fake_catalog, monkeypatch):
    bad = dataclasses.replace(fake_catalog, sha256="f" * 64)
    monkeypatch.setattr(catalog, "get", lambda name: bad)
    with pytest.raises(ChecksumError, match="f" * 64):
        store.pull(bad.name)
    assert visible(store) == ([], [])


def test_resolve_default_pulls_it(store, fake_catalog):
    with pytest.raises(ModelNotFoundError) as err:
        store.resolve(None, pull_missing=False)
    assert f"slm pull {fake_catalog.name}" in err.value.hint
    ref = store.resolve(None)
    assert ref.name == fake_catalog.name and store.resolve(fake_catalog.name) == ref


def test_pull_unknown_name(store):
    with pytest.raises(ModelNotFoundError) as err:
        store.pull("smollm2-135m-instrct")
    assert "smollm2-135m-instruct" in err.value.suggestions


def test_get_catalog_name_not_stored_says_pull(store):
    with pytest.raises(ModelNotFoundError) as err:
        store.get("qwen2.5-coder-0.5b-instruct")
    assert "slm pull qwen2.5-coder-0.5b-instruct" in err.value.hint


def test_pull_hf_offline_registers_nothing(store, monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    with pytest.raises(SourceError, match="cannot reach Hugging Face"):
        store.pull("hf:owner/repo/model.gguf")
    assert visible(store) == ([], []) and staging_dirs(store) == []
