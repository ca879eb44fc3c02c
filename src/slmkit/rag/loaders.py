"""File → text sections for RAG: the loaders live in :mod:`slmkit.formats.loaders` (a
neutral package the apps use too); this module keeps rag's names for them."""

from slmkit.formats.loaders import (
    CODE_EXTENSIONS,
    LOADERS,
    MAX_FILE_BYTES,
    TEXT_EXTENSIONS,
    LoadError,
    Section,
    doc_type,
    load_bytes,
    load_file,
)

__all__ = ["CODE_EXTENSIONS", "LOADERS", "MAX_FILE_BYTES", "TEXT_EXTENSIONS", "LoadError",
           "Section", "doc_type", "load_bytes", "load_file"]
