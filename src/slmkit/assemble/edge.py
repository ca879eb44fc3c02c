"""`slm bundle` as the CLI runs it: the edge package's request with the RAG store's
collection exporter wired in (``--rag COLLECTION``; edge never imports rag)."""

from __future__ import annotations

from slmkit.edge.bundle_request import BundleRequest as _EdgeBundleRequest


class BundleRequest(_EdgeBundleRequest):
    """:class:`slmkit.edge.bundle_request.BundleRequest` whose collections are exported by
    :func:`slmkit.rag.store.snapshot`."""

    def rag_exporter(self):
        from slmkit.rag.store import snapshot

        return snapshot
