"""The real HTTP app (``create_app``) over a fake engine, for request validation tests that
need no model: ``client = app_client(); client.post(...)`` (a Starlette TestClient)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from helpers.fake_engine import FakeLocal
from slmkit.core.errors import ModelNotFoundError
from slmkit.serve.app import create_app
from slmkit.serve.metrics import Metrics
from slmkit.serve.registry import Available, LoadResult, ModelSpec, Registry
from slmkit.serve.service import Service

BASE_URL = "http://127.0.0.1:8000"


class FakeLoader:
    """Serves one engine under its own name; any other name is not found."""

    def __init__(self, engine) -> None:
        self.engine = engine

    def resolve(self, name: str) -> ModelSpec:
        if name != self.engine.info.name:
            raise ModelNotFoundError(name)
        return ModelSpec(name, 0)

    def load(self, spec: ModelSpec) -> LoadResult:
        return LoadResult(self.engine)

    def available(self) -> list[Available]:
        return [Available(self.engine.info.name)]


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


def make_app(engine=None, *, rag=None, registry_kw=None, **kw):
    """``create_app`` over ``engine`` (a FakeLocal by default); ``kw`` go to create_app."""
    from slmkit.serve import routes_rag

    engine = engine or FakeLocal()
    registry = Registry(FakeLoader(engine), **(registry_kw or {}))
    app = create_app(Service(registry, Metrics(registry)), routers=[routes_rag.router],
                     state={"rag": rag or FakeCollections()}, **kw)
    return app


def app_client(engine=None, *, base_url: str = BASE_URL, **kw) -> TestClient:
    """A TestClient (entered: lifespan runs) on :func:`make_app`; close it when done."""
    client = TestClient(make_app(engine, **kw), base_url=base_url)
    client.__enter__()
    return client
