"""Ingest a folder of every format, re-ingest incrementally, refuse bad names, mismatched
embedders and damaged files with clear errors."""

from __future__ import annotations

import os

import pytest

from helpers.rag_files import FACTS, write_all_formats
from slmkit.rag.ingest import ingest
from slmkit.rag.retrieve import Filters, search
from slmkit.rag.store import (
    Collection,
    CollectionNotFoundError,
    EmbedderMismatchError,
    StoreError,
    check_name,
    collection_path,
    drop_collection,
    list_collections,
)


@pytest.fixture
def docs(tmp_path):
    folder = tmp_path / "docs"
    write_all_formats(folder)
    return folder


def test_folder_of_every_format_ingests_and_answers(tmp_path, docs, embedder):
    (docs / "broken.pdf").write_bytes(b"%PDF-1.4 garbage")
    (docs / "photo.png").write_bytes(b"\x89PNG")
    (docs / ".hidden.txt").write_text("hidden")
    with Collection("all", tmp_path, create=True) as coll:
        r = ingest(coll, [docs, tmp_path / "missing.md"], embedder)
        assert sorted(os.path.basename(p) for p in r.added) == sorted(FACTS)
        reasons = {os.path.basename(f["path"]): f["reason"] for f in r.failed}
        assert set(reasons) == {"broken.pdf", "missing.md"}
        assert "pdf" in reasons["broken.pdf"] and "no such" in reasons["missing.md"]
        assert [os.path.basename(p) for p in r.skipped] == ["photo.png"]
        assert coll.stats()["documents"] == len(FACTS)
        for name, fact in FACTS.items():
            hits = search(coll, embedder, fact, k=3)
            assert os.path.basename(hits[0].source) == name, (name, hits[0])
        pdf = search(coll, embedder, "Busan plant revenue", k=1)[0]
        assert pdf.page == 2 and pdf.locator() == "report.pdf p.2"
        md = search(coll, embedder, "Valve V-220 draining", k=1,
                    filters=Filters(types=["markdown"]))[0]
        assert (md.line_start, md.line_end) == (1, 5) and md.locator() == "guide.md:1-5"
        assert coll.integrity_check() == "ok"


def test_incremental_reingest(tmp_path, docs, embedder):
    with Collection("inc", tmp_path, create=True) as coll:
        first = ingest(coll, [docs], embedder)
        n_chunks = coll.stats()["chunks"]
        again = ingest(coll, [docs], embedder)
        assert not again.added and not again.updated and again.chunks == 0
        assert len(again.unchanged) == len(first.added)
        (docs / "notes.txt").write_text("Ops notes\n\nThe staging password now rotates weekly.\n")
        (docs / "util.py").unlink()
        third = ingest(coll, [docs], embedder)
        assert [os.path.basename(p) for p in third.updated] == ["notes.txt"]
        assert [os.path.basename(p) for p in third.removed] == ["util.py"]
        assert coll.stats()["documents"] == len(FACTS) - 1
        # the old text is gone from BM25 and from the vectors
        assert not search(coll, embedder, "45 days", k=5, mode="bm25")
        assert all("util.py" not in h.source for h in search(coll, embedder, "checksum crc32",
                                                               k=10, mode="dense"))
        assert search(coll, embedder, "rotates weekly", k=1, mode="bm25")[0].source.endswith(
            "notes.txt")
        rows = coll.conn.execute("SELECT count(*) FROM chunks_vec").fetchall()[0][0]
        assert rows == coll.stats()["chunks"] <= n_chunks
        fts = coll.conn.execute("SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH "
                                "'staging'").fetchall()[0][0]
        assert fts == 1


def test_ingest_is_not_pruned_for_files_named_one_by_one(tmp_path, docs, embedder):
    with Collection("one", tmp_path, create=True) as coll:
        ingest(coll, [docs / "notes.txt", docs / "guide.md"], embedder)
        (docs / "guide.md").unlink()
        r = ingest(coll, [docs / "notes.txt"], embedder)
        assert not r.removed and coll.stats()["documents"] == 2


@pytest.mark.parametrize("name", ["../evil", "a/b", "", ".hidden", "x" * 65, "a..b", "nul\x00"])
def test_bad_names_are_refused(tmp_path, name):
    with pytest.raises(ValueError, match="invalid collection name"):
        Collection(name, tmp_path, create=True)
    assert not list((tmp_path).rglob("*.db"))


def test_names_and_listing(tmp_path):
    assert check_name("team-docs_v2.1") == "team-docs_v2.1"
    assert collection_path("a", tmp_path) == tmp_path / "rag" / "a.db"
    with pytest.raises(CollectionNotFoundError, match="slm rag ingest nope"):
        Collection("nope", tmp_path)
    Collection("b", tmp_path, create=True).close()
    Collection("a", tmp_path, create=True).close()
    assert list_collections(tmp_path) == ["a", "b"]
    assert drop_collection("a", tmp_path) and not drop_collection("a", tmp_path)
    assert list_collections(tmp_path) == ["b"]


def test_embedder_mismatch_is_refused(tmp_path, docs, embedder):
    with Collection("m", tmp_path, create=True) as coll:
        ingest(coll, [docs / "notes.txt"], embedder)
        assert coll.meta()["embedder"] == "all-minilm-l6-v2" and coll.dimension == 384
        with pytest.raises(EmbedderMismatchError, match="all-minilm-l6-v2"):
            coll.bind_embedder("other-embedder", 768)

        class Renamed:
            name, dimension, max_tokens = "other-embedder", 384, 256

            def embed(self, texts):
                return embedder.embed(texts)

        with pytest.raises(EmbedderMismatchError, match="--embedder all-minilm-l6-v2"):
            search(coll, Renamed(), "password", k=1)


def test_damaged_file_gives_a_clear_error(tmp_path):
    path = collection_path("bad", tmp_path)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="slm rag drop bad"):
        Collection("bad", tmp_path)


@pytest.mark.integration
def test_gguf_model_as_embedder(tmp_path, docs, engine):
    """A GGUF model through llama.cpp's embeddings: its own tokenizer cuts the chunks."""
    from slmkit.runtime.sentence import EngineEmbedder

    emb = EngineEmbedder(engine, name="smollm2-135m-instruct")
    assert emb.dimension == engine.info.n_embd and emb.max_tokens > 0
    text = "Valve V-220 must be closed. " * 3
    spans = emb.token_spans(text)
    assert spans[0][0] == 0 and spans[-1][1] == len(text)
    with Collection("gguf", tmp_path, create=True) as coll:
        r = ingest(coll, [docs / "notes.txt", docs / "guide.md"], emb)
        assert len(r.added) == 2 and coll.dimension == emb.dimension
        hits = search(coll, emb, "Valve V-220 draining", k=1, mode="hybrid")
        assert hits[0].source.endswith("guide.md")
