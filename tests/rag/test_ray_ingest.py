"""`slm rag ingest --ray`: the files read, chunked and embedded in Ray tasks (a local head)
make the same collection as a local ingest: same documents, chunks and query answers."""

from __future__ import annotations

import functools

import pytest

from helpers.rag_files import FACTS, write_all_formats
from slmkit.rag.ingest import ingest
from slmkit.rag.retrieve import search
from slmkit.rag.store import Collection

pytestmark = [pytest.mark.ray, pytest.mark.slow]
pytest.importorskip("ray", reason="ray is not installed (pip install 'slmkit[ray]'): "
                                  "the fan-out tests need a local Ray head")


def _rows(coll: Collection) -> list[tuple]:
    docs = coll.documents()
    return sorted((path, doc.sha256) for path, doc in docs.items())


def test_ray_fan_out_makes_the_same_collection(tmp_path, embedder, embedder_ref):
    from slmkit.runtime.sentence import SentenceEmbedder
    from slmkit.scale.ray_batch import RayFanOut

    docs = tmp_path / "docs"
    write_all_formats(docs)
    (docs / "broken.pdf").write_bytes(b"%PDF-1.4 garbage")
    make = functools.partial(SentenceEmbedder, embedder_ref.path, name=embedder.name,
                             threads=1)
    with Collection("local", tmp_path, create=True) as local, \
            Collection("fanned", tmp_path, create=True) as fanned:
        a = ingest(local, [docs], embedder)
        b = ingest(fanned, [docs], embedder, fan_out=RayFanOut(num_cpus=2),
                   make_embedder=make, shards=2)
        assert b.chunks == a.chunks > 0 and sorted(b.added) == sorted(a.added)
        assert [f["path"] for f in b.failed] == [f["path"] for f in a.failed]
        assert _rows(fanned) == _rows(local)
        assert fanned.stats()["chunks"] == local.stats()["chunks"]
        for fact in FACTS.values():
            want = [(h.source, h.text) for h in search(local, embedder, fact, k=3)]
            assert [(h.source, h.text) for h in search(fanned, embedder, fact, k=3)] == want
