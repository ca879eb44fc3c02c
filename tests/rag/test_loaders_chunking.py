"""Every format loads with its text and place; corrupt files fail with a reason; chunks never
exceed the embedder's input limit, overlap, and know their lines."""

from __future__ import annotations

import itertools
import json

import pytest

from helpers.rag_files import FACTS, minimal_pdf, write_all_formats
from slmkit.rag.chunking import chunk_section
from slmkit.rag.loaders import LoadError, Section, doc_type, load_bytes, load_file


def test_every_format_loads_its_text(tmp_path):
    write_all_formats(tmp_path)
    for name, fact in FACTS.items():
        sections = load_file(tmp_path / name)
        text = "\n".join(s.text for s in sections)
        key = fact.split()[1] if name != "config.json" else "max_retries"
        assert key in text, (name, text[:300])
    html = "\n".join(s.text for s in load_file(tmp_path / "page.html"))
    assert "do-not-index" not in html and "color:red" not in html
    pdf = load_file(tmp_path / "report.pdf")
    assert [s.page for s in pdf] == [1, 2]
    assert "Busan" in pdf[1].text and "Busan" not in pdf[0].text
    docx = "\n".join(s.text for s in load_file(tmp_path / "memo.docx"))
    assert "R-101" in docx  # tables too
    cfg = load_file(tmp_path / "config.json")[0].text
    assert "billing.worker.max_retries: 17" in cfg
    rows = load_file(tmp_path / "parts.csv")[0].text.splitlines()
    assert rows[2].startswith("part: GK-3301")


@pytest.mark.parametrize("name,data,reason", [
    ("bad.pdf", b"%PDF-1.4\nnot really a pdf", "pdf"),
    ("bad.docx", b"PK\x03\x04 this is no zip", "docx"),
    ("bad.json", b"{\"a\": ", "json"),
    ("bad.jsonl", b"{\"a\": 1}\n{oops\n", "line 2"),
    ("blob.txt", b"\x00\x01\x02binary", "binary"),
    ("image.png", b"\x89PNG", "unsupported"),
])
def test_corrupt_files_raise_with_reason(name, data, reason):
    with pytest.raises(LoadError) as e:
        load_bytes(name, data)
    assert e.value.path == name
    assert reason in e.value.reason.lower()


def test_missing_file_is_a_load_error(tmp_path):
    with pytest.raises(LoadError, match="No such file"):
        load_file(tmp_path / "nope.txt")


def test_pdf_helper_is_a_real_pdf():
    from io import BytesIO

    from pypdf import PdfReader

    assert len(PdfReader(BytesIO(minimal_pdf(["a", "b", "c"]))).pages) == 3


def test_types():
    assert doc_type("a/b.MD") == "markdown" and doc_type("x.py") == "code"
    assert doc_type("x.htm") == "html" and doc_type("x.exe") is None


LONG_CASES = {
    "prose": "The quick brown fox jumps over the lazy dog. " * 400,
    "no_spaces": "x" * 20000,
    "long_words": " ".join(["antidisestablishmentarianism" * 3] * 500),
    "unicode": "서울은 대한민국의 수도이다. 東京は日本の首都です。 " * 300,
    "code": "\n".join(f"def f{i}(a, b):\n    return a * {i} + b  # ERR-{i:04d}"
                      for i in range(400)),
    "lines": "\n".join(f"line {i}: value={i * 7}" for i in range(1500)),
}


@pytest.mark.parametrize("case", list(LONG_CASES))
def test_chunks_never_exceed_the_limit(embedder, case):
    text = LONG_CASES[case]
    chunks = chunk_section(Section(text, first_line=1), embedder, size=10_000, overlap=40)
    # WordPiece reads a 20k-character "word" as one [UNK] token: one chunk is right there
    assert len(chunks) > 1 or case == "no_spaces"
    for c in chunks:
        assert c.n_tokens <= embedder.max_tokens
        assert embedder.count_tokens(c.text) == c.n_tokens
        assert text[c.char_start:c.char_end] == c.text
    # everything is covered, in order, and neighbours overlap
    assert chunks[0].char_start == 0 or not text[:chunks[0].char_start].strip()
    assert chunks[-1].char_end >= len(text.rstrip()) - 1
    for a, b in itertools.pairwise(chunks):
        assert b.char_start < a.char_end, "overlap expected"
        assert b.char_start > a.char_start


def test_chunk_lines_and_sentence_cuts(embedder):
    text = "\n".join(f"Line number {i} says something short." for i in range(1, 201))
    chunks = chunk_section(Section(text, first_line=1), embedder, size=60, overlap=10)
    for c in chunks:
        first = c.text.splitlines()[0]
        if first.startswith("Line number"):
            assert first.split()[2] == str(c.line_start)
        assert c.line_end - c.line_start == c.text.count("\n")
        assert c.text.rstrip().endswith(".") or c is chunks[-1]  # cut at sentence/line ends


def test_embed_refuses_over_long_text(embedder):
    with pytest.raises(ValueError, match="chunk it first"):
        embedder.embed(["word " * 600])


def test_json_roundtrip_of_jsonl_records():
    data = "\n".join(json.dumps({"k": i, "tags": ["a", "b"]}) for i in range(3)).encode()
    text = load_bytes("x.jsonl", data)[0].text
    assert text.splitlines()[1] == "k: 1; tags: a, b"
