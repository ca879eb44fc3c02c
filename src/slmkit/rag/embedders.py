"""Embedders by name, from the model store: the catalog's sentence-transformers models and
their ONNX Runtime variants.

``all-minilm-l6-v2-int8`` (the default for new collections) is all-MiniLM-L6-v2 with int8
weights on ONNX Runtime: it is not downloaded but made here, once, from the pinned and
checksummed ``all-minilm-l6-v2`` (pulled first when missing), through
:func:`slmkit.convert.embedder_onnx.sentence_to_onnx`, checked against the original on
probe sentences, and registered in the store with its lineage and tree digest
(``slm list`` shows it; nothing is committed to the repository). Making it needs torch
(the ``eval`` extra) once; loading and querying need only onnxruntime and tokenizers.

A collection records the embedder's name, and a name means one vector space: an old
collection built with ``all-minilm-l6-v2`` keeps being queried with the sentence-transformers
model, never with the int8 variant (whose vectors differ slightly).
"""

from __future__ import annotations

from pathlib import Path

# variant name → (the stored model it is made from, precision)
ONNX_VARIANTS = {"all-minilm-l6-v2-int8": ("all-minilm-l6-v2", "int8")}
DEFAULT = "all-minilm-l6-v2-int8"


def is_onnx_variant(name: str | None) -> bool:
    return (name or "").strip().lower() in ONNX_VARIANTS


def load(name: str | None = None, *, pull_missing: bool = True, threads: int = 0,
         store=None):
    """The embedder ``name`` (default :data:`DEFAULT`), made or pulled into the store when
    missing unless ``pull_missing`` is false."""
    from slmkit.models.store import Store
    from slmkit.runtime.sentence import load_embedder

    store = store or Store()
    name = (name or DEFAULT).strip().lower()
    if is_onnx_variant(name):
        ref = ensure_onnx(store, name, pull_missing=pull_missing)
    else:
        ref = store.resolve(name, pull_missing=pull_missing)
    return load_embedder(ref.path, name=ref.name, threads=threads or 0)


def ensure_onnx(store, name: str, *, pull_missing: bool = True):
    """The stored ONNX variant ``name``, made from its parent when missing (the parent is
    pulled first unless ``pull_missing`` is false)."""
    from slmkit.core.errors import ModelNotFoundError
    from slmkit.models.store import ModelExistsError

    if store.has(name):
        return store.resolve(name, pull_missing=False)
    parent = ONNX_VARIANTS[name][0]
    if not pull_missing and not store.has(parent):  # making it downloads nothing else
        raise ModelNotFoundError(name, hint=f"run `slm pull {parent}`: {name} is made from "
                                            "it on first use")
    try:
        return make_onnx(store, name)
    except ModelExistsError:  # another process made it meanwhile
        return store.resolve(name, pull_missing=False)


def make_onnx(store, name: str):
    """Export, quantize, check and register the ONNX variant ``name``."""
    from slmkit.convert.embedder_onnx import MIN_COSINE, sentence_to_onnx
    from slmkit.core.errors import InvalidModelFileError

    parent, precision = ONNX_VARIANTS[name]
    pref = store.resolve(parent)
    digest = store.manifest(parent).get("sha256")
    with store.derive(name, parent=pref.name, method=f"onnx-export:{precision}",
                      params={"precision": precision, "parent_sha256": digest},
                      kind="embedder") as d:
        out = sentence_to_onnx(pref.path, d.dir / name, precision=precision,
                               source_digest=digest)
        worst = probe_cosine(pref.path, out)
        if worst < MIN_COSINE[precision]:
            raise InvalidModelFileError(
                f"the {precision} ONNX export of {parent} embeds probe sentences at cosine "
                f"{worst:.4f} to the original (needs ≥ {MIN_COSINE[precision]})")
        d.params["probe_min_cosine"] = round(worst, 5)
    return d.ref


def probe_cosine(src: str | Path, onnx_dir: str | Path) -> float:
    """The smallest cosine between the ONNX export's and sentence-transformers' vectors of
    the probe sentences."""
    import numpy as np

    from slmkit.convert.embedder_onnx import PROBES
    from slmkit.runtime.sentence import SentenceEmbedder
    from slmkit.runtime.sentence_onnx import OnnxSentenceEmbedder

    ref = SentenceEmbedder(str(src), threads=1).embed_array(list(PROBES))
    emb = OnnxSentenceEmbedder(str(onnx_dir), threads=1)
    try:
        got = emb.embed_array(list(PROBES))
    finally:
        emb.close()
    return float(np.min(np.sum(ref * got, axis=1)))
