"""Retrieval: dense (sqlite-vec KNN or the ANN index), BM25 (FTS5 or the BM25 index),
hybrid (query-adaptive fusion), MMR.

Hybrid fuses the dense and BM25 candidate lists (:mod:`slmkit.rag.fusion`: by default a
convex combination of normalised scores whose lexical weight follows the query — high for
identifiers and for queries whose words the best BM25 chunk holds, low for paraphrases),
then chunks that contain the query's identifiers (``ERR-4012``: letters and digits mixed)
are moved to the front.

Vectors are unit length and stored for L2 distance, so cosine similarity is ``1 - d²/2``.
User text never reaches FTS5 syntax raw: :func:`fts_query` quotes every term, turns an
identifier such as ``ERR-4012`` or ``JIRA-1234`` into the phrase ``"err 4012"`` (FTS5's
tokenizer splits on the hyphen in the documents too, so the phrase matches exactly), drops
stop words and ORs the rest, so BM25 ranks the rarest matching terms first.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from slmkit.core.retrieval import Passage
from slmkit.rag.fusion import FUSIONS, fuse, rrf  # noqa: F401 - rrf: this module's API
from slmkit.rag.store import Collection

MODES = ("hybrid", "dense", "bm25")
STOP_WORDS = frozenset(["a", "an", "and", "are", "as", "at", "be", "but", "by", "can", "could", "did", "do", "does", "for", "from", "had", "has", "have", "how", "i", "if", "in", "into", "is", "it", "its", "me", "my", "no", "not", "of", "on", "or", "our", "so", "than", "that", "the", "their", "them", "then", "there", "these", "they", "this", "to", "was", "we", "were", "what", "when", "where", "which", "who", "whom", "why", "will", "with", "would", "you", "your", "about", "after", "all", "also", "any", "been", "before", "being", "between", "both", "during", "each", "few", "more", "most", "other", "same", "should", "some", "such", "only", "own", "too", "very", "just", "does", "tell", "say", "says", "said"])
_TOKEN = re.compile(r"\w+(?:[-./:#]\w+)*", re.UNICODE)
_PART = re.compile(r"[^\W_]+", re.UNICODE)
# an identifier mixes letters and digits (ERR-4012, JIRA-1234, PN-48213-B, P100, 0x1F)
_IDENT = re.compile(r"\b(?=[\w.-]*\d)(?=[\w.-]*[^\W\d_])\w+(?:[-_.]\w+)*\b", re.UNICODE)


def _date(text: str | None) -> float | None:
    if text is None:
        return None
    from datetime import datetime

    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        raise ValueError(f"dates look like 2026-11-28 or 2026-11-28T10:00, got {text!r}") from None


@dataclass
class Filters:
    """``path``: a glob on the file path (a pattern without '/' matches the file name);
    ``types``: loader types (pdf, markdown, code, …); ``since``/``until``: file mtime
    (seconds since the epoch)."""

    path: str | None = None
    types: Sequence[str] = field(default_factory=tuple)
    since: float | None = None
    until: float | None = None

    @classmethod
    def parse(cls, path: str | None = None, types: Sequence[str] = (),
              since: str | None = None, until: str | None = None) -> Filters:
        """Filters from what a user typed: dates as ``2026-11-28`` or
        ``2026-11-28T10:00`` (``ValueError`` otherwise)."""
        return cls(path=path, types=tuple(types), since=_date(since), until=_date(until))

    def active(self) -> bool:
        return bool(self.path or self.types or self.since is not None or self.until is not None)

    def sql(self) -> tuple[str, list]:
        where, args = [], []
        if self.path:
            where.append("d.path GLOB ?")
            args.append(self.path if "/" in self.path else "*/" + self.path)
        if self.types:
            where.append(f"d.doc_type IN ({','.join('?' * len(self.types))})")
            args += list(self.types)
        if self.since is not None:
            where.append("d.mtime >= ?")
            args.append(self.since)
        if self.until is not None:
            where.append("d.mtime <= ?")
            args.append(self.until)
        return (" AND ".join(where) or "1"), args


def query_terms(text: str) -> list[list[str]]:
    """The searchable terms of free text, each a list of lower-case word parts (an
    identifier such as ``ERR-4012`` is one term of two parts), stop words dropped unless
    nothing else is left, duplicates dropped."""
    terms, seen = [], set()
    tokens = _TOKEN.findall(text)
    content = [t for t in tokens if t.lower() not in STOP_WORDS] or tokens
    for tok in content:
        parts = tuple(p.lower() for p in _PART.findall(tok))
        if parts and parts not in seen:
            seen.add(parts)
            terms.append(list(parts))
    return terms


def fts_query(text: str) -> str | None:
    """A safe FTS5 MATCH expression for free text (each term a quoted phrase, ORed), or
    None when nothing is searchable."""
    terms = query_terms(text)
    return _match(terms) if terms else None


def _match(terms: list[list[str]]) -> str:
    return " OR ".join('"' + " ".join(t) + '"' for t in terms)


def identifiers(text: str) -> list[re.Pattern]:
    """Patterns for the identifiers in a query; separators may differ in the text."""
    out = []
    for tok in _IDENT.findall(text):
        parts = _PART.findall(tok)
        if len("".join(parts)) >= 3:
            out.append(re.compile(r"(?<![^\W_])" + r"[\W_]*".join(map(re.escape, parts))
                                  + r"(?![^\W_])", re.IGNORECASE))
    return out


def promote_exact(ranked: list[tuple[int, float]], texts: dict[int, str],
                  patterns: list[re.Pattern]) -> list[tuple[int, float]]:
    """Chunks holding more of the query's identifiers first, fused order otherwise: rank
    fusion favours chunks both lists half-agree on, which buries the one chunk that holds
    the exact error code when dense retrieval cannot tell near-identical entries apart."""
    def n_found(cid: int) -> int:
        text = texts.get(cid, "")
        return sum(1 for p in patterns if p.search(text))
    return sorted(ranked, key=lambda x: (-n_found(x[0]), -x[1]))


def _blob(vector) -> bytes:
    import numpy as np

    return np.asarray(vector, dtype=np.float32).tobytes()


def _cos(d: float) -> float:
    return 1.0 - d * d / 2.0


class VectorCache:
    """Whole collections' vectors as in-memory matrices, for long-running processes (the
    server): a KNN is then one matrix-vector product instead of a scan of the SQLite pages.
    Keyed by file and the collection's write counter, so a write by any process is seen at
    the next search. Costs 4 x dimension bytes per chunk (150 MB at 100k x 384)."""

    def __init__(self, min_chunks: int = 5000) -> None:
        self.min_chunks = min_chunks
        self._data: dict[str, tuple[int, object, object]] = {}
        self._lock = threading.Lock()

    def matrix(self, coll: Collection):
        """(ids, matrix) or None when the collection is small (vec0 is fast enough)."""
        import numpy as np

        gen, key = coll.generation(), str(coll.path)
        with self._lock:
            hit = self._data.get(key)
        if hit is not None and hit[0] == gen:
            return hit[1], hit[2]
        n = coll.conn.execute("SELECT max(id) FROM chunks").fetchall()[0][0] or 0
        if n < self.min_chunks:
            return None
        rows = coll.conn.execute("SELECT id, emb FROM chunks_vec").fetchall()
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        mat = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(
            len(rows), -1)
        with self._lock:
            self._data[key] = (gen, ids, mat)
        return ids, mat


def _dense_matrix(ids, mat, qvec: bytes, n: int) -> list[tuple[int, float]]:
    import numpy as np

    q = np.frombuffer(qvec, dtype=np.float32)
    scores = mat @ q  # [N]
    top = np.argpartition(-scores, min(n, len(scores) - 1))[:n] if len(scores) > n else \
        np.arange(len(scores))
    top = top[np.argsort(-scores[top])]
    return [(int(ids[i]), float(scores[i])) for i in top]


def dense(coll: Collection, qvec: bytes, n: int, filters: Filters | None = None, *,
          cache: VectorCache | None = None, index=None) -> list[tuple[int, float]]:
    """(chunk id, cosine) best first: through ``index`` (an ``ann.AnnIndex``, see
    :func:`ann_index`) when given and no filter is active, exactly otherwise."""
    if coll.dimension is None:
        return []
    if index is not None and (filters is None or not filters.active()):
        from slmkit.rag import ann

        return ann.dense(coll, index, qvec, n)
    if cache is not None and (filters is None or not filters.active()):
        got = cache.matrix(coll)
        if got is not None:
            return _dense_matrix(got[0], got[1], qvec, n)
    if filters is None or not filters.active():
        rows = coll.conn.execute("SELECT id, distance FROM chunks_vec WHERE emb MATCH ? "
                                 "AND k = ?", (qvec, n)).fetchall()
    else:
        where, args = filters.sql()
        rows = coll.conn.execute(
            "SELECT v.id, vec_distance_l2(v.emb, ?) AS dist FROM chunks_vec v "
            "JOIN chunks c ON c.id = v.id JOIN documents d ON d.id = c.doc_id "
            f"WHERE {where} ORDER BY dist LIMIT ?", (qvec, *args, n)).fetchall()
    return [(int(i), _cos(float(d))) for i, d in rows]


def ann_index(coll: Collection, mode: str = "hybrid", filters: Filters | None = None):
    """The collection's up-to-date ANN index when dense search should use it (a large
    collection, no filter), else None. Outside a read transaction: it may write the log."""
    if mode == "bm25" or (filters is not None and filters.active()):
        return None
    from slmkit.rag import ann

    return ann.ANN.get(coll)


def lexical_index(coll: Collection, mode: str = "hybrid", filters: Filters | None = None):
    """The collection's up-to-date BM25 index file when BM25 should use it (a large
    collection, no filter), else None. Outside a read transaction, as :func:`ann_index`."""
    if mode == "dense" or (filters is not None and filters.active()):
        return None
    from slmkit.rag import lexical

    return lexical.LEX.get(coll)


def bm25(coll: Collection, query: str, n: int, filters: Filters | None = None, *,
         index=None) -> list[tuple[int, float]]:
    """(chunk id, BM25 score, higher is better) best first: through ``index`` (a
    ``lexical.LexIndex``, see :func:`lexical_index`) when given and no filter is active,
    through FTS5 otherwise (the same ranking)."""
    terms = query_terms(query)
    if not terms:
        return []
    if index is not None and (filters is None or not filters.active()):
        from slmkit.rag import lexical

        return index.search(lexical.query_tokens(coll.conn, terms), n)
    match = _match(terms)
    if filters is None or not filters.active():  # no join: FTS5 alone ranks the matches
        rows = coll.conn.execute(
            "SELECT rowid, bm25(chunks_fts) AS s FROM chunks_fts WHERE chunks_fts MATCH ? "
            "ORDER BY s LIMIT ?", (match, n)).fetchall()
        return [(int(i), -float(s)) for i, s in rows]
    where, args = filters.sql()
    rows = coll.conn.execute(
        "SELECT f.rowid, bm25(chunks_fts) AS s FROM chunks_fts f "
        "JOIN chunks c ON c.id = f.rowid JOIN documents d ON d.id = c.doc_id "
        f"WHERE chunks_fts MATCH ? AND {where} ORDER BY s LIMIT ?",
        (match, *args, n)).fetchall()
    return [(int(i), -float(s)) for i, s in rows]


def _index_vectors(index, ids) -> dict[int, bytes]:
    from slmkit.rag import ann

    return ann.vectors(index, ids)


def _mmr(ids: list[int], qv, vecs: dict, k: int, lam: float) -> list[int]:
    import numpy as np

    chosen: list[int] = []
    cand = [i for i in ids if i in vecs]
    mats = {i: np.frombuffer(vecs[i], dtype=np.float32) for i in cand}
    while cand and len(chosen) < k:
        def gain(i):
            rel = float(mats[i] @ qv)
            red = max((float(mats[i] @ mats[j]) for j in chosen), default=0.0)
            return lam * rel - (1 - lam) * red
        best = max(cand, key=gain)
        chosen.append(best)
        cand.remove(best)
    return chosen


def search(coll: Collection, embedder, query: str, *, k: int = 5, mode: str = "hybrid",
           filters: Filters | None = None, mmr: float | None = None,
           candidates: int | None = None, cache: VectorCache | None = None,
           fusion: str = "adaptive", exact: bool = False) -> list[Passage]:
    """The top ``k`` chunks for ``query``. ``mmr`` (0..1, e.g. 0.7) re-ranks the candidates
    for diversity: ``mmr * relevance - (1 - mmr) * max similarity to those already chosen``.
    ``fusion`` (hybrid only): ``adaptive`` (default), ``convex`` (equal weights) or ``rrf``
    (reciprocal rank fusion), see :mod:`slmkit.rag.fusion`. ``exact`` skips the ANN index
    (a large collection's dense search is approximate otherwise, recall@10 ≥ 0.95)."""
    import numpy as np

    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    if fusion not in FUSIONS:
        raise ValueError(f"fusion must be one of {', '.join(FUSIONS)}, got {fusion!r}")
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if embedder is not None and coll.embedder is not None:
        coll.check_embedder(str(embedder.name), int(embedder.dimension))
    n = candidates or max(4 * k, 20)
    qv = None
    if mode != "bm25" or mmr is not None:
        qv = np.asarray(embedder.embed([query])[0], dtype=np.float32)
    index = None if exact else ann_index(coll, mode, filters)
    lex = lexical_index(coll, mode, filters)
    with coll.read():
        d_rank = dense(coll, qv.tobytes(), n, filters, cache=cache,
                       index=index) if mode != "bm25" else []
        b_rank = bm25(coll, query, n, filters, index=lex) if mode != "dense" else []
        patterns = identifiers(query) if mode != "dense" else []
        texts: dict[int, str] = {}
        if mode == "hybrid" and fusion != "rrf" and b_rank:
            texts = {c: r["text"] for c, r in coll.chunk_rows([b_rank[0][0]]).items()}
        if mode == "hybrid":
            top_text = texts.get(b_rank[0][0], "") if b_rank else ""
            ranked = fuse(d_rank, b_rank, query, method=fusion, top_text=top_text,
                          has_identifier=bool(patterns))
        else:
            ranked = d_rank if mode == "dense" else b_rank
        exact: dict[int, int] = {}
        if patterns and ranked:
            texts = {c: r["text"] for c, r in coll.chunk_rows([c for c, _ in ranked]).items()}
            exact = {c: sum(1 for p in patterns if p.search(t)) for c, t in texts.items()}
            if mode == "hybrid":
                ranked = promote_exact(ranked, texts, patterns)
        ids = [cid for cid, _ in ranked]
        sims = dict(d_rank)
        need = ids if mmr is not None else [c for c in ids[:k] if c not in sims]
        vecs = {} if qv is None else coll.vectors(need) if index is None else \
            _index_vectors(index, need)
        if mmr is not None:
            ids = _mmr(ids, qv, vecs, k, mmr)
        ids = ids[:k]
        rows = coll.chunk_rows(ids)
    score = dict(ranked)
    d_pos = {cid: r for r, (cid, _) in enumerate(d_rank, 1)}
    b_pos = {cid: r for r, (cid, _) in enumerate(b_rank, 1)}
    out = []
    for cid in ids:
        row = rows.get(cid)
        if row is None:  # deleted between the two reads (cannot happen inside one snapshot)
            continue
        sim = sims.get(cid)
        if sim is None:
            sim = float(np.frombuffer(vecs[cid], dtype=np.float32) @ qv) if cid in vecs else 0.0
        ranks = {m: p[cid] for m, p in (("dense", d_pos), ("bm25", b_pos)) if cid in p}
        if exact.get(cid):
            ranks["exact"] = exact[cid]  # how many of the query's identifiers it holds
        out.append(Passage(cid, row["text"], row["path"], round(score.get(cid, 0.0), 6),
                           round(sim, 6), row["page"], row["line_start"], row["line_end"],
                           row["doc_type"], ranks))
    return out


class Retriever:
    """A ``core.retrieval.Retriever`` over one collection and its embedder."""

    def __init__(self, collection: Collection, embedder, *, mode: str = "hybrid",
                 filters: Filters | None = None, mmr: float | None = None) -> None:
        self.collection, self.embedder = collection, embedder
        self.mode, self.filters, self.mmr = mode, filters, mmr
        self.last_seconds = 0.0

    def retrieve(self, query: str, k: int = 5) -> list[Passage]:
        t = time.perf_counter()
        out = search(self.collection, self.embedder, query, k=k, mode=self.mode,
                     filters=self.filters, mmr=self.mmr)
        self.last_seconds = time.perf_counter() - t
        return out
