"""On-device RAG: loaders, token-aware chunking, a SQLite store (sqlite-vec + FTS5),
hybrid retrieval, grounded answers with citations, evaluation. Meets the rest of slmkit only
through ``core`` (an ``Engine`` answers, an ``Embedder`` embeds); ``cli/rag.py`` wires it."""
