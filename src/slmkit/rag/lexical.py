"""A BM25 index next to a large collection: FTS5's tokens and formula over memory-mapped
posting arrays, searched with MaxScore.

Why: FTS5's ``bm25()`` reads every posting of every query term (about 0.9 µs each here),
so a query holding a word most chunks contain costs ~0.7 s at a million chunks. This index
keeps, per term, the sorted chunk ids, term counts and term weights in flat numpy arrays
(:mod:`slmkit.rag.postings`; common terms also as a dense row by chunk id); a query adds
each term's ``idf x weight`` into one score array (a few ns per posting) and, once the ``n``
best scores so far beat what the remaining (common, low-idf) terms could add to a chunk not
yet seen, only looks those terms up for the candidates left (MaxScore). The result is
FTS5's ranking: same tokenizer (FTS5's own ``porter unicode61 remove_diacritics 2``, called through
apsw), same formula (k1 1.2, b 0.75, idf ``log((N - df + 0.5) / (df + 0.5))`` floored at
1e-6, document length in tokens), summed in double precision from float32 term weights
(scores agree with FTS5's to about 1e-7, relative). One difference: a multi-word phrase
(``"err 4012"``, what :func:`~slmkit.rag.retrieve.fts_query` makes of an identifier) matches
chunks holding all its words, not only adjacent ones, counted by the rarer word.

Files, next to ``<name>.db``: ``<name>.bm25`` (a JSON header, then the arrays; memory
mapped by readers, so a one-shot query reads only its terms' postings) and
``<name>.bm25.lock``. It stays in step with SQLite through the same change log as the ANN
index (:mod:`slmkit.rag.changelog`): the chunks changed after the file's ``seq`` are taken
out of the saved postings and their current text indexed in memory; the writer merges them
into a new file after an ingest. A missing, foreign or unreadable file, or one the log was
pruned past, is rebuilt from the chunks' text.
"""

from __future__ import annotations

import fcntl
import math
import os
import threading

from slmkit.rag import postings
from slmkit.rag.changelog import changed_since, ensure_log, has_log, locked, log_max, pruned
from slmkit.rag.changelog import prune as prune_log
from slmkit.rag.changelog import sidecar
from slmkit.rag.changelog import size as _size
from slmkit.rag.postings import Segment
from slmkit.rag.store import Collection

MIN_CHUNKS = 20_000  # as the ANN index: below it FTS5 answers within a few milliseconds
MAX_REPLAY = 50_000  # more changed chunks than this: rebuild instead of indexing them apart
SAMPLE = 16_384  # scored chunks sampled to bound the n-th best score from below
LOOKUP_COST = 8  # a candidate's binary search costs about this many postings added in full


def query_tokens(conn, terms: list[list[str]]) -> list[list[str]]:
    """FTS5's tokens of each query term (``retrieve.query_terms``), as FTS5 reads the
    quoted phrase: each word part stemmed."""
    import apsw

    tok = postings.tokenizer(conn)
    return [postings.tokens(tok, " ".join(t), apsw.FTS5_TOKENIZE_QUERY) for t in terms]


class LexIndex:
    """A collection's BM25 index in memory: the saved segment, the chunks changed since it
    was saved (taken out of it: ``dead``) and their current postings (``extra``)."""

    def __init__(self, base: Segment, seq: int, created: str) -> None:
        self.base, self.seq, self.created = base, seq, created
        self.saved_seq = seq
        self.dead = None  # bool by chunk id, or None when nothing changed
        self.extra: Segment | None = None
        self.lock = threading.Lock()

    def __len__(self) -> int:
        return self._stats()[0]

    def _stats(self) -> tuple[int, float]:
        n, total = self.base.n_docs, self.base.total
        if self.dead is not None:
            gone = self.base.lengths[self.dead[:self.base.size]]
            n, total = n - len(gone), total - int(gone.sum())
        if self.extra is not None:
            n, total = n + self.extra.n_docs, total + self.extra.total
        return n, (total / n if n else 0.0)

    def _parts(self, term: str) -> list[tuple]:
        """(chunk ids, counts, weights or None, lengths by id, dense row or None) of
        ``term`` per segment. The saved weights hold while the segment's average length is
        the index's (no change since it was saved); else they are recomputed from the
        counts."""
        seg = self.base
        at, row = seg.postings(term)
        docs, tfs, imps = seg.docs[at], seg.tfs[at], seg.impacts[at]
        if self.dead is not None and len(docs):
            keep = ~self.dead[docs]
            docs, tfs = docs[keep], tfs[keep]
        if self.dead is None and self.extra is None:
            return [(docs, tfs, imps, seg.lengths, row)]
        parts = [(docs, tfs, None, seg.lengths, None)]
        if self.extra is not None:
            at, _ = self.extra.postings(term)
            parts.append((self.extra.docs[at], self.extra.tfs[at], None, self.extra.lengths,
                          None))
        return parts

    def phrase(self, words: list[str]) -> list[tuple]:
        """Postings of a phrase: chunks holding every word, counted by the rarest."""
        import numpy as np

        if len(words) == 1:
            return self._parts(words[0])
        out = []
        for part_of_each in zip(*[self._parts(w) for w in words], strict=True):
            docs, tfs, _, lens, _ = part_of_each[0]
            for other_docs, other_tfs, *_ in part_of_each[1:]:
                docs, i, j = np.intersect1d(docs, other_docs, assume_unique=True,
                                            return_indices=True)
                tfs = np.minimum(tfs[i], other_tfs[j])
            out.append((docs, tfs, None, lens, None))
        return out

    def search(self, phrases: list[list[str]], n: int) -> list[tuple[int, float]]:
        """(chunk id, BM25 score, higher is better) of the ``n`` best chunks holding any of
        ``phrases`` (each a list of FTS5 tokens), best first; ties by chunk id."""
        with self.lock:
            lists = [p for p in (self.phrase(w) for w in phrases if w)
                     if sum(len(d) for d, *_ in p)]
            size = max(self.base.size, self.extra.size if self.extra else 0)
            return _maxscore(lists, *self._stats(), size, n)


def _contrib(idf: float, part, avgdl: float, at=None):
    """``idf x weight`` of the postings ``at`` (all when None) of one segment's part."""
    docs, tfs, imps, lens, _ = part
    if at is None:
        at = slice(None)
    if imps is not None:
        return idf * imps[at]
    return idf * postings.weights(tfs[at], lens[docs[at]], avgdl)


def _floor(acc, seen: list, n: int) -> float:
    """A score at least ``n`` chunks reach: the ``n``-th best of the chunks scored so far
    (``seen``: their id arrays) when they are few, else of every ``k``-th chunk (distinct
    chunks either way); 0.0 when the sample holds fewer than ``n``."""
    import numpy as np

    if sum(len(d) for d in seen) <= SAMPLE:
        sample = acc[np.unique(np.concatenate(seen))] if seen else acc[:0]
    else:
        sample = acc[::max(1, len(acc) // SAMPLE)]
    if len(sample) < n:
        return 0.0
    return float(np.partition(sample, len(sample) - n)[len(sample) - n])


def _lookup(acc, cands, idf: float, part, avgdl: float) -> None:
    """Add one segment's part of a phrase to the candidates it holds."""
    import numpy as np

    docs, row = part[0], part[4]
    if not len(docs) or not len(cands):
        return
    if row is not None:
        acc[cands] += idf * row[cands]
        return
    want = cands.astype(docs.dtype)
    pos = np.minimum(np.searchsorted(docs, want), len(docs) - 1)
    found = docs[pos] == want
    acc[cands[found]] += _contrib(idf, part, avgdl, pos[found])


def _maxscore(lists, n_docs: int, avgdl: float, size: int, n: int):
    """Exact top ``n`` by BM25 over ``lists`` (per phrase: its parts, one per segment)."""
    import numpy as np

    if not lists or n_docs == 0:
        return []
    idf = []
    for parts in lists:
        df = sum(len(p[0]) for p in parts)
        v = math.log((n_docs - df + 0.5) / (df + 0.5))
        idf.append(v if v > 0 else 1e-6)
    order = sorted(range(len(lists)), key=lambda i: -idf[i])
    bound = [idf[i] * (postings.K1 + 1.0) for i in order]  # most a phrase adds to a chunk
    rest = [sum(bound[i:]) for i in range(len(order))]
    acc = np.zeros(size, dtype=np.float64)
    seen, cands = [], None
    for step, i in enumerate(order):
        if cands is None and step > 0:
            floor = _floor(acc, seen, n)
            if floor > 0 and floor >= rest[step]:  # no unseen chunk can reach the top n
                left = sum(len(p[0]) for j in order[step:] for p in lists[j])
                found = np.flatnonzero((acc > 0) & (acc + rest[step] >= floor))
                if LOOKUP_COST * len(found) < left:  # else adding every posting is cheaper
                    cands = found
        for part in lists[i]:
            if cands is None:
                if part[4] is not None:  # a dense row: one vector add
                    acc[:len(part[4])] += idf[i] * part[4]
                else:
                    acc[part[0]] += _contrib(idf[i], part, avgdl)
                seen.append(part[0])
            else:
                _lookup(acc, cands, idf[i], part, avgdl)
    floor = _floor(acc, seen if cands is None else [cands], n)
    if cands is None:
        cands = np.flatnonzero(acc >= floor) if floor > 0 else np.flatnonzero(acc)
    elif floor > 0:
        cands = cands[acc[cands] >= floor]
    if len(cands) > n:
        cands = cands[np.argpartition(-acc[cands], n - 1)[:n]]
    cands = cands[np.lexsort((cands, -acc[cands]))]
    return [(int(c), float(acc[c])) for c in cands]


# ---- the file next to the collection -------------------------------------------------------
def paths(coll: Collection):
    """(index file, lock file) of ``coll``."""
    return sidecar(coll, ".bm25"), sidecar(coll, ".bm25.lock")


def load(coll: Collection) -> LexIndex | None:
    """The saved index if it belongs to this collection, else None."""
    path, lock = paths(coll)
    with locked(lock, fcntl.LOCK_SH):
        try:
            seg, meta = postings.read(path)
        except (OSError, ValueError, KeyError, TypeError):
            return None
    if meta.get("created") != coll.meta().get("created", ""):
        return None
    return LexIndex(seg, int(meta.get("seq", 0)), meta["created"])


def save(coll: Collection, lex: LexIndex) -> None:
    """Merge the changes into a new segment and write it atomically (temporary file, then
    rename), unless a newer file is already on disk."""
    path, lock = paths(coll)
    with lex.lock:
        if lex.extra is not None or lex.dead is not None:
            lex.base = postings.merge(lex.base, lex.dead, lex.extra or postings.empty())
            lex.dead, lex.extra = None, None
    with locked(lock, fcntl.LOCK_EX):
        try:
            meta, _ = postings.header(path)
            newer = meta.get("created") == lex.created and meta.get("seq", -1) >= lex.seq
        except (OSError, ValueError, KeyError, TypeError):
            newer = False
        if not newer:
            tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
            postings.write(tmp, lex.base, {"created": lex.created, "seq": lex.seq})
            os.replace(tmp, path)
    lex.saved_seq = lex.seq


def _texts(coll: Collection, ids=None):
    if ids is None:
        yield from coll.conn.execute("SELECT id, text FROM chunks")
        return
    ids = sorted(ids)
    for a in range(0, len(ids), 500):
        part = ids[a:a + 500]
        yield from coll.conn.execute(
            f"SELECT id, text FROM chunks WHERE id IN ({','.join('?' * len(part))})",
            tuple(part)).fetchall()


def build(coll: Collection, progress=None) -> LexIndex:
    """A fresh index of every chunk (the log position read in the same snapshot)."""
    ensure_log(coll)
    with coll.read():
        seq, created = log_max(coll), coll.meta().get("created", "")
        seg = postings.build(postings.tokenizer(coll.conn), _texts(coll), _size(coll) + 1,
                             progress)
    return LexIndex(seg, seq, created)


def catch_up(coll: Collection, lex: LexIndex) -> int:
    """Index the chunks changed after the saved segment's ``seq`` apart from it (idempotent:
    recomputed from the saved position each time); how many chunk ids changed."""
    import numpy as np

    with coll.read():
        top = log_max(coll)
        if top <= lex.seq:
            return 0
        ids = changed_since(coll, lex.saved_seq)
        extra = postings.build(postings.tokenizer(coll.conn), _texts(coll, ids))
    dead = np.zeros(max(lex.base.size, max(ids, default=0) + 1), dtype=bool)
    known = [i for i in ids if i < lex.base.size and lex.base.lengths[i] >= 0]
    dead[known] = True
    with lex.lock:
        lex.dead, lex.extra, lex.seq = (dead if known else None), extra, top
    return len(ids)


def _usable(coll: Collection, lex: LexIndex | None) -> bool:
    return lex is not None and lex.created == coll.meta().get("created", "") and \
        lex.saved_seq >= pruned(coll)


def refresh(coll: Collection, *, min_chunks: int | None = None, prune: bool = True,
            progress=None) -> LexIndex | None:
    """Bring the saved index up to date (build it when missing, stale or foreign) and save
    it; None for a collection under ``min_chunks`` chunks. With ``prune``, the log entries
    it holds are dropped (right only when no other index file needs them)."""
    ensure_log(coll)
    min_chunks = MIN_CHUNKS if min_chunks is None else min_chunks
    if _size(coll) < min_chunks:
        return None
    lex = load(coll)
    if not _usable(coll, lex) or log_max(coll) - lex.seq > MAX_REPLAY:
        lex = build(coll, progress)
    elif catch_up(coll, lex) == 0 and not prune:
        return lex
    save(coll, lex)
    if prune:
        with coll.write():
            prune_log(coll, lex.seq)
    return lex


class LexCache:
    """Indexes kept open by a process, checked against the change log before each search:
    a newer file on disk (the writer's, after an ingest) replaces the one in memory, changes
    not in any file yet are indexed apart in memory."""

    def __init__(self, min_chunks: int | None = None) -> None:
        self.min_chunks = MIN_CHUNKS if min_chunks is None else min_chunks
        self._data: dict[str, LexIndex] = {}
        self._lock = threading.Lock()

    def get(self, coll: Collection) -> LexIndex | None:
        """An up-to-date index for ``coll``, or None when FTS5 should answer."""
        if not has_log(coll) and _size(coll) < self.min_chunks:
            return None
        key = str(coll.path)
        with self._lock:
            lex = self._fresh(coll, self._data.get(key))
            if lex is not None and len(lex) < self.min_chunks:
                lex = None  # shrank under the threshold: FTS5 again
            if lex is None:
                self._data.pop(key, None)
            else:
                self._data[key] = lex
            return lex

    def _fresh(self, coll: Collection, lex: LexIndex | None) -> LexIndex | None:
        top = log_max(coll)
        if lex is None or not _usable(coll, lex) or top > lex.seq:
            saved = load(coll) if _size(coll) >= self.min_chunks else None
            if _usable(coll, saved) and (lex is None or not _usable(coll, lex)
                                         or saved.saved_seq > lex.saved_seq):
                lex = saved
            elif lex is None or not _usable(coll, lex):
                return refresh(coll, min_chunks=self.min_chunks, prune=False)
        if top - lex.saved_seq > MAX_REPLAY:
            return refresh(coll, min_chunks=self.min_chunks, prune=False)
        if top > lex.seq:
            catch_up(coll, lex)
        return lex


LEX = LexCache()  # this process's open indexes
