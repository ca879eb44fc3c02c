"""The real HTTP app over one fake engine and a fake collection service, for the security
tests (``tests/serve/test_security_*.py``): ``client = app_client(engine, rag=...)`` is an
entered Starlette TestClient addressed to 127.0.0.1 (the Host check answers loopback names
only). Built on :mod:`helpers.fake_server`."""

from __future__ import annotations

from fastapi.testclient import TestClient

from helpers.fake_engine import FakeLocal
from helpers.fake_server import FakeLoader, fake_app

BASE_URL = "http://127.0.0.1:8000"


class FakeCollections:
    """A ``core.retrieval.CollectionService`` that records ingests."""

    def __init__(self) -> None:
        self.ingested: list[tuple[str, list]] = []

    def list(self):
        return []

    def query(self, name, query, *, k=5, mode="hybrid", filters=None):
        return []

    def ingest_texts(self, name, documents):
        self.ingested.append((name, list(documents)))
        return {"collection": name, "added": [d["name"] for d in documents]}

    def drop(self, name):
        return False


def make_app(engine=None, *, rag=None, **kw):
    """``create_app`` over ``engine`` (a FakeLocal by default) under its own name, with the
    RAG routes on ``rag``; ``kw`` go to create_app (or fake_app's registry options)."""
    from slmkit.serve import routes_rag

    engine = engine or FakeLocal()
    app, _ = fake_app(FakeLoader({engine.info.name: lambda: engine}),
                      routers=[routes_rag.router], state={"rag": rag or FakeCollections()},
                      **kw)
    return app


def app_client(engine=None, *, base_url: str = BASE_URL, **kw) -> TestClient:
    """A TestClient (entered: lifespan runs) on :func:`make_app`; close it when done."""
    client = TestClient(make_app(engine, **kw), base_url=base_url)
    client.__enter__()
    return client
