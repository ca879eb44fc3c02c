"""Posting arrays of the BM25 index (:mod:`slmkit.rag.lexical`): build, merge, write, map.

A segment holds, for a set of chunks tokenized by FTS5's own tokenizer, per term (sorted
UTF-8 bytes) the sorted chunk ids, the term counts and each posting's BM25 term weight
``tf (k1 + 1) / (tf + k1 (1 - b + b dl / avgdl))`` computed with the segment's own average
length (``impacts``, float32: a query then multiplies by the idf and adds). A term in a quarter of
the chunks or more also gets its weights as one dense row by chunk id (``dense``): adding a
row costs less than scattering that many postings, and a candidate's weight is one read.
The file is a JSON header, then each array at a 64-byte boundary, memory-mapped by readers.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from itertools import islice

from slmkit.rag.store import FTS_TOKENIZER

K1, B = 1.2, 0.75  # FTS5's bm25() constants
MAGIC = b"SLMBM25\x03"
BATCH = 50_000
ARRAYS = ("blob", "term_off", "starts", "docs", "tfs", "impacts", "lengths", "dense_terms",
          "dense")
DENSE_SHARE = 4  # a term in 1/4 of the chunks or more gets a dense row
DENSE_MIN_SIZE = 4096  # smaller segments: postings only


@dataclass
class Segment:
    """Term ``i`` (UTF-8 in ``blob[term_off[i]:term_off[i + 1]]``, terms sorted) holds the
    postings ``starts[i]:starts[i + 1]`` of ``docs`` (sorted chunk ids), ``tfs`` and
    ``impacts``; ``lengths[id]`` is chunk ``id``'s length in tokens, -1 for a chunk the
    segment does not hold. Term ``dense_terms[j]`` also has its weights by chunk id in row
    ``j`` of ``dense`` (0 where absent)."""

    blob: object
    term_off: object
    starts: object
    docs: object
    tfs: object
    impacts: object
    lengths: object
    dense_terms: object
    dense: object
    n_docs: int
    total: int

    @property
    def avgdl(self) -> float:
        return self.total / self.n_docs if self.n_docs else 0.0

    @property
    def size(self) -> int:
        return len(self.lengths)

    def term_id(self, term: str) -> int | None:
        """Binary search in the sorted term blob (nothing to load at open)."""
        key, blob, off = term.encode(), self.blob, self.term_off
        lo, hi = 0, len(off) - 1
        while lo < hi:
            mid = (lo + hi) // 2
            if bytes(blob[off[mid]:off[mid + 1]]) < key:
                lo = mid + 1
            else:
                hi = mid
        if lo < len(off) - 1 and bytes(blob[off[lo]:off[lo + 1]]) == key:
            return lo
        return None

    def postings(self, term: str) -> tuple[slice, object]:
        """(the positions of ``term``'s postings, an empty slice when absent; its dense row
        of weights or None)."""
        import numpy as np

        tid = self.term_id(term)
        if tid is None:
            return slice(0, 0), None
        j = int(np.searchsorted(self.dense_terms, tid))
        row = self.dense[j] if j < len(self.dense_terms) and self.dense_terms[j] == tid \
            else None
        return slice(int(self.starts[tid]), int(self.starts[tid + 1])), row

    def terms(self) -> list[str]:
        raw, off = bytes(self.blob), self.term_off.tolist()
        return [raw[a:b].decode() for a, b in zip(off[:-1], off[1:], strict=True)]


def tokenizer(conn):
    """FTS5's own tokenizer for collections (``FTS_TOKENIZER``), called through apsw."""
    name, *args = FTS_TOKENIZER.split()
    return conn.fts5_tokenizer(name, args)


def tokens(tok, text: str, flags: int) -> list[str]:
    return [t[0] for t in tok(text.encode(), flags, None, include_offsets=False)]


def build(tok, rows, size: int = 0, progress=None) -> Segment:
    """A segment of ``(chunk id, text)`` rows; chunk ids below ``size`` get a length slot
    even when absent. ``progress(n)`` after each batch of ``n`` rows."""
    import apsw
    import numpy as np

    vocab: dict[str, int] = {}
    keys, counts, lengths = [], [], {}
    rows = iter(rows)
    while batch := list(islice(rows, BATCH)):
        tids, dids = [], []
        for cid, text in batch:
            ids = [vocab.setdefault(t, len(vocab))
                   for t in tokens(tok, text, apsw.FTS5_TOKENIZE_DOCUMENT)]
            lengths[cid] = len(ids)
            tids += ids
            dids += [cid] * len(ids)
        key, count = np.unique((np.asarray(tids, dtype=np.uint64) << np.uint64(32))
                               | np.asarray(dids, dtype=np.uint64), return_counts=True)
        keys.append(key)
        counts.append(count)
        if progress is not None:
            progress(len(batch))
    return pack(vocab, keys, counts, lengths, size)


def pack(vocab: dict[str, int], keys, counts, lengths: dict[int, int], size: int) -> Segment:
    """Sort ``term id << 32 | chunk id`` keys (term ids from ``vocab``) into term order."""
    import numpy as np

    terms = sorted(vocab, key=str.encode)
    rank = np.empty(len(vocab), dtype=np.uint64)
    rank[[vocab[t] for t in terms]] = np.arange(len(terms), dtype=np.uint64)
    key = np.concatenate(keys) if keys else np.zeros(0, dtype=np.uint64)
    count = np.concatenate(counts) if counts else np.zeros(0, dtype=np.int64)
    low = np.uint64(0xFFFFFFFF)
    key = (rank[(key >> np.uint64(32)).astype(np.int64)] << np.uint64(32)) | (key & low)
    if len(key) > 1 and not bool(np.all(key[1:] > key[:-1])):
        # runs of sorted keys (a merge: the saved segment, then the changes; a build: one
        # run per batch): a stable sort merges them in about linear time, where lexsort on
        # (term, chunk) took 11 s at 34M postings
        order = np.argsort(key, kind="stable")
        key, count = key[order], count[order]
        del order
    tid, docs = key >> np.uint64(32), (key & low).astype(np.uint32)
    del key
    starts = np.searchsorted(tid, np.arange(len(terms) + 1, dtype=np.uint64)).astype(np.int64)
    encoded = [t.encode() for t in terms]
    term_off = np.zeros(len(terms) + 1, dtype=np.int64)
    term_off[1:] = np.cumsum([len(t) for t in encoded])
    top = max([size - 1, *lengths]) + 1 if lengths or size else 0
    lens = np.full(top, -1, dtype=np.int32)
    if lengths:
        lens[np.fromiter(lengths, dtype=np.int64)] = np.fromiter(lengths.values(),
                                                                 dtype=np.int32)
    n_docs, total = len(lengths), int(sum(lengths.values()))
    avgdl = total / n_docs if n_docs else 1.0
    tfs = np.minimum(count, 65535).astype(np.uint16)
    imps = weights(tfs, lens[docs], avgdl).astype(np.float32)
    dense_terms = np.flatnonzero(np.diff(starts) * DENSE_SHARE >= top) \
        if top >= DENSE_MIN_SIZE else np.zeros(0, dtype=np.int64)
    dense = np.zeros((len(dense_terms), top), dtype=np.float32)
    for j, tid in enumerate(dense_terms):
        at = slice(starts[tid], starts[tid + 1])
        dense[j, docs[at]] = imps[at]
    return Segment(np.frombuffer(b"".join(encoded), dtype=np.uint8), term_off, starts, docs,
                   tfs, imps, lens, dense_terms.astype(np.int64), dense, n_docs, total)


def weights(tfs, lens, avgdl: float):
    """BM25's per-posting term weight (the idf aside), in double precision."""
    import numpy as np

    tf = np.asarray(tfs, dtype=np.float64)
    return tf * (K1 + 1.0) / (tf + K1 * (1.0 - B + B * lens / avgdl))


def merge(base: Segment, dead, extra: Segment) -> Segment:
    """``base`` without the chunks ``dead`` marks (a bool array by chunk id) plus ``extra``."""
    import numpy as np

    vocab = {t: i for i, t in enumerate(base.terms())}
    extra_ids = np.asarray([vocab.setdefault(t, len(vocab)) for t in extra.terms()],
                           dtype=np.uint64)
    base_tid = np.repeat(np.arange(len(base.starts) - 1, dtype=np.uint64),
                         np.diff(base.starts))
    keep = ~dead[base.docs] if dead is not None else np.ones(len(base.docs), dtype=bool)
    keys = [(base_tid[keep] << np.uint64(32)) | base.docs[keep].astype(np.uint64),
            (np.repeat(extra_ids, np.diff(extra.starts)) << np.uint64(32))
            | extra.docs.astype(np.uint64)]
    counts = [base.tfs[keep].astype(np.int64), extra.tfs.astype(np.int64)]
    lengths = {}
    for seg, mask in ((base, dead), (extra, None)):
        ids = np.flatnonzero(np.asarray(seg.lengths) >= 0)
        if mask is not None:
            ids = ids[~mask[ids]]
        lengths.update(zip(ids.tolist(), np.asarray(seg.lengths)[ids].tolist(), strict=True))
    return pack(vocab, keys, counts, lengths, max(base.size, extra.size))


def empty() -> Segment:
    return pack({}, [], [], {}, 0)


def write(path, seg: Segment, header: dict) -> None:
    """Header (JSON, padded to 64 bytes), then each array at a 64-byte boundary; the file
    is readable by its owner only (it holds the collection's words)."""
    import numpy as np

    arrays = [np.ascontiguousarray(getattr(seg, k)).reshape(-1) for k in ARRAYS]
    meta = {**header, "n_docs": seg.n_docs, "total": seg.total, "arrays": []}
    offset = 0
    for a in arrays:
        meta["arrays"].append([a.dtype.str, len(a), offset])
        offset += -(-a.nbytes // 64) * 64
    head = json.dumps(meta).encode()
    start = len(MAGIC) + 8 + -(-len(head) // 64) * 64
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(MAGIC + len(head).to_bytes(8, "little") + head.ljust(start - len(MAGIC) - 8))
        for a, (_, _, off) in zip(arrays, meta["arrays"], strict=True):
            f.seek(start + off)
            f.write(a.tobytes())
        f.truncate(start + offset)
        f.flush()
        os.fsync(f.fileno())


def header(path) -> tuple[dict, int]:
    """(the file's JSON header, where its arrays start); ``ValueError`` if not ours."""
    with open(path, "rb") as f:
        if f.read(len(MAGIC)) != MAGIC:
            raise ValueError(f"{path} is not a BM25 index of this version")
        n = int.from_bytes(f.read(8), "little")
        meta = json.loads(f.read(n))
    return meta, len(MAGIC) + 8 + -(-n // 64) * 64


def read(path) -> tuple[Segment, dict]:
    """The segment in ``path``, memory-mapped read-only, and the file's header."""
    import numpy as np

    meta, start = header(path)
    whole = np.asarray(np.memmap(path, dtype=np.uint8, mode="r"))  # plain views: faster
    arrays = []
    for dtype, count, off in meta["arrays"]:
        dt = np.dtype(dtype)
        end = start + off + count * dt.itemsize
        if end > len(whole):
            raise ValueError(f"{path} is truncated")
        arrays.append(whole[start + off:end].view(dt))
    if len(arrays) != len(ARRAYS):
        raise ValueError(f"{path} is not a BM25 index of this version")
    arrays[-1] = arrays[-1].reshape(len(arrays[-2]), len(arrays[ARRAYS.index("lengths")]))
    return Segment(*arrays, int(meta["n_docs"]), int(meta["total"])), meta
