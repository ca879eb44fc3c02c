"""RAG for the server and the CLI: embedders from the model store, the collections service,
and the ``rag:COLLECTION`` models (a base model answering from a collection) that
:class:`slmkit.serve.prefixed.PrefixLoader` serves."""

from __future__ import annotations

from slmkit.core.errors import ModelNotFoundError
from slmkit.rag.service import DEFAULT_EMBEDDER, RagService


def store_embedder(name: str | None = None, *, pull_missing: bool = True, threads: int = 0):
    """The sentence embedder ``name`` (default :data:`DEFAULT_EMBEDDER`) from the model
    store, pulled (or, for an ONNX variant, made) when missing unless ``pull_missing`` is
    false (see :mod:`slmkit.rag.embedders`)."""
    from slmkit.rag import embedders

    return embedders.load(name or DEFAULT_EMBEDDER, pull_missing=pull_missing, threads=threads)


def passage_search(collection: str, *, k: int = 3, threads: int = 0):
    """``search(query) -> [{"source", "text"}]``: the top ``k`` passages of ``collection``
    (hybrid search, its own embedder, never pulled), e.g. runbooks for log explanations."""
    from slmkit.rag.retrieve import Retriever
    from slmkit.rag.store import Collection

    coll = Collection(collection)
    retriever = Retriever(coll, store_embedder(coll.embedder, pull_missing=False,
                                               threads=threads))
    return lambda query: [{"source": p.source, "text": p.text}
                          for p in retriever.retrieve(query, k)]


def rag_service(home=None) -> RagService:
    """The collections service with embedders from the store (what ``/v1/rag`` serves).
    ``home``: a directory whose ``rag/`` holds the collections (default ``$SLM_HOME``),
    such as an installed bundle slot; an embedder found in its ``embedders/NAME/`` is
    used before the store's (a bundle carries the one its collections were built with)."""
    from pathlib import Path

    def embedder_for(name: str):
        carried = Path(home) / "embedders" / name if home else None
        if carried is not None and carried.is_dir():
            from slmkit.runtime.sentence import load_embedder

            return load_embedder(str(carried), name=name)
        return store_embedder(name)

    return RagService(embedder_for, home=home)


class RagModels:
    """``rag:COLLECTION``: the model ``base`` (default: the ``model.default`` setting, else
    the catalog's default model) answering from that collection, for
    :class:`~slmkit.serve.prefixed.PrefixLoader`."""

    prefix = "rag:"

    def __init__(self, service: RagService, base: str | None = None) -> None:
        self.service, self.base = service, base

    def check(self, key: str) -> None:
        from slmkit.rag.store import CollectionNotFoundError, check_name

        try:
            check_name(key)
            self.service.retriever(key)
        except (ValueError, CollectionNotFoundError) as err:
            raise ModelNotFoundError(self.prefix + key,
                                     hint=f"{err}; GET /v1/rag/collections lists them") from None

    def base_name(self) -> str:
        from slmkit.models import catalog
        from slmkit.settings import get_settings

        return self.base or get_settings().default_model or catalog.default_model().name

    def wrap(self, engine, key: str, name: str):
        from slmkit.rag.engine import RagEngine

        return RagEngine(engine, self.service.retriever(key), name=name)

    def keys(self) -> list[str]:
        from slmkit.rag.store import list_collections

        return list_collections(self.service.home)
