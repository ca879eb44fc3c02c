"""RAG at scale: hybrid query latency and dense recall@10, exact vs the ANN index.

Builds a synthetic collection once (cached under ``~/.cache/slmkit/bench/rag-ann-<N>/``;
``--rebuild`` drops it): 384-dim clustered unit vectors like MiniLM's, and BM25 text of
Zipf-distributed words, stored through the real schema (chunks, FTS5, vec0, the ANN log
triggers), then the ANN index through ``rag.ann.refresh``. Measures, per query, the search
part (the query's embedding is precomputed: it costs the same either way):

- dense exact (sqlite-vec scan, what a one-shot CLI query did) and dense ANN;
- BM25 alone, through FTS5 and through the BM25 index file (its scores compared with FTS5's);
- hybrid ``search()`` end to end with the ANN index (warm: the server) and in a fresh
  process (the one-shot CLI: opening the collection and mapping the index included);
- recall@10 of ANN dense against exact dense.

    python benchmarks/rag_ann.py --n 1000000
    python benchmarks/rag_ann.py --n 100000 --queries 100

Quality on real embeddings (hit@5 on the identifier and prose sets) is benchmarks/rag.py's
job; it runs the same ``search()``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from _common import machine, save  # noqa: E402
from rag_ann_libs import DIM, clustered  # noqa: E402

CACHE = Path.home() / ".cache" / "slmkit" / "bench"
VOCAB = 30_000
WORDS_PER_CHUNK = 60
PER_DOC = 100


class FixedEmbedder:
    """Hands back the query vector set before each search (the search part is timed)."""

    name, dimension, max_tokens, n_special = "synthetic-384", DIM, 256, 2

    def __init__(self) -> None:
        self.vec = np.zeros(DIM, dtype=np.float32)

    def embed(self, texts):
        return [self.vec for _ in texts]


def _words(rng, n: int) -> np.ndarray:
    return np.minimum(rng.zipf(1.2, n), VOCAB) - 1


def _text(ids) -> str:
    return " ".join(f"w{i}" for i in ids)


def build(home: Path, n: int) -> dict:
    """Insert ``n`` chunks in documents of ``PER_DOC`` (unless ``rows.json`` says an earlier
    run did), then build the ANN index; the times each took. The rows of a million chunks
    take minutes, the index CPU-hours on two cores: a run stopped during the index resumes
    there."""
    from slmkit.rag import ann
    from slmkit.rag.store import Collection

    marker = home / "rows.json"
    if not marker.exists():
        from slmkit.rag.store import drop_collection

        drop_collection("bench", home)
        marker.write_text(json.dumps({"rows_seconds": insert_rows(home, n)}))
    rows_s = json.loads(marker.read_text())["rows_seconds"]
    with Collection("bench", home) as coll:
        t = time.perf_counter()
        ann.refresh(coll, threads=os.cpu_count() or 1)
        index_s = time.perf_counter() - t
    return {"rows_seconds": rows_s, "index_seconds": round(index_s, 1),
            "bm25_index_seconds": build_bm25(home)}


def build_bm25(home: Path) -> float:
    """Build the BM25 index file from scratch; seconds it took."""
    from slmkit.rag import lexical
    from slmkit.rag.store import Collection

    with Collection("bench", home) as coll:
        lexical.paths(coll)[0].unlink(missing_ok=True)
        t = time.perf_counter()
        lexical.refresh(coll, prune=False)
        return round(time.perf_counter() - t, 1)


def insert_rows(home: Path, n: int) -> float:
    """The synthetic rows (text, FTS, float vectors); seconds it took."""
    from slmkit.rag.store import Collection

    rng = np.random.default_rng(0)
    t0 = time.perf_counter()
    with Collection("bench", home, create=True) as coll:
        coll.bind_embedder(FixedEmbedder.name, DIM)
        vecs = clustered(n)
        for start in range(0, n, 20_000):
            with coll.write():
                for d in range(start, min(n, start + 20_000), PER_DOC):
                    doc = coll.conn.execute(
                        "INSERT INTO documents(path, sha256, doc_type, mtime, size, n_chunks,"
                        " ingested_at) VALUES (?, '', 'text', 0, 0, ?, 0) RETURNING id",
                        (f"/bench/doc{d // PER_DOC}.txt", PER_DOC)).fetchall()[0][0]
                    rows = [(d + i + 1, doc, i, _text(_words(rng, WORDS_PER_CHUNK)))
                            for i in range(min(PER_DOC, n - d))]
                    coll.conn.executemany(
                        "INSERT INTO chunks(id, doc_id, ord, text, char_start, char_end) "
                        "VALUES (?, ?, ?, ?, 0, 0)", rows)
                    coll.conn.executemany("INSERT INTO chunks_fts(rowid, text) VALUES (?, ?)",
                                          [(r[0], r[3]) for r in rows])
                    coll.conn.executemany("INSERT INTO chunks_vec(id, emb) VALUES (?, ?)",
                                          [(r[0], vecs[r[0] - 1].tobytes()) for r in rows])
            print(f"  {min(n, start + 20_000):,} chunks, {time.perf_counter() - t0:.0f} s",
                  flush=True)
    return round(time.perf_counter() - t0, 1)


def queries(home: Path, n_q: int) -> list[dict]:
    """Queries made from stored chunks: a few of their words, a vector near theirs."""
    from slmkit.rag.store import Collection

    rng = np.random.default_rng(1)
    out = []
    with Collection("bench", home) as coll:
        top = coll.conn.execute("SELECT max(id) FROM chunks").fetchall()[0][0]
        for cid in rng.integers(1, top + 1, n_q):
            text, emb = coll.conn.execute(
                "SELECT c.text, v.emb FROM chunks c JOIN chunks_vec v ON v.id = c.id "
                "WHERE c.id = ?", (int(cid),)).fetchall()[0]
            words = text.split()
            pick = rng.choice(len(words), 4, replace=False)
            v = np.frombuffer(emb, dtype=np.float32) + \
                0.5 * rng.standard_normal(DIM).astype(np.float32) / np.sqrt(DIM)
            out.append({"text": " ".join(words[i] for i in pick),
                        "vec": (v / np.linalg.norm(v)).tolist()})
    return out


def _stats(ms: list[float]) -> dict:
    return {"p50_ms": round(statistics.median(ms), 2),
            "p95_ms": round(float(np.percentile(ms, 95)), 2), "n": len(ms)}


def _timed(fn, items) -> tuple[list, list[float]]:
    res, ms = [], []
    for it in items:
        t = time.perf_counter()
        res.append(fn(it))
        ms.append((time.perf_counter() - t) * 1000)
    return res, ms


def measure_warm(home: Path, qs: list[dict], n_exact: int) -> dict:
    """Everything but the fresh-process query, in this process (the server's view)."""
    from slmkit.rag import ann, lexical
    from slmkit.rag.retrieve import bm25, dense, search
    from slmkit.rag.store import Collection

    emb, k = FixedEmbedder(), 10
    with Collection("bench", home) as coll:
        index = ann.ANN.get(coll)
        blobs = [np.asarray(q["vec"], dtype=np.float32).tobytes() for q in qs]
        _, ann_ms = _timed(lambda b: ann.dense(coll, ann.ANN.get(coll), b, 20), blobs)
        fts, bm_ms = _timed(lambda q: bm25(coll, q["text"], 20), qs)
        lex, lx_ms = _timed(lambda q: bm25(coll, q["text"], 20, index=lexical.LEX.get(coll)),
                            qs)

        def hybrid(q, exact=False):
            emb.vec = np.asarray(q["vec"], dtype=np.float32)
            return search(coll, emb, q["text"], k=5, exact=exact)
        _, hy_ms = _timed(hybrid, qs)
        truth, ex_ms = _timed(lambda b: [c for c, _ in dense(coll, b, k)], blobs[:n_exact])
        _, hx_ms = _timed(lambda q: hybrid(q, exact=True), qs[:n_exact])
        found = [[c for c, _ in ann.dense(coll, index, b, k)] for b in blobs[:n_exact]]
    rec = np.mean([len(set(f) & set(t)) / k for f, t in zip(found, truth, strict=True)])
    same = np.mean([len(a) == len(b) and np.allclose([x for _, x in a], [x for _, x in b],
                                                     rtol=1e-6, atol=0)
                    for a, b in zip(fts, lex, strict=True)])
    return {"dense_exact": _stats(ex_ms), "dense_ann": _stats(ann_ms), "bm25": _stats(bm_ms),
            "bm25_index": _stats(lx_ms), "bm25_index_same_scores": round(float(same), 4),
            "hybrid_exact": _stats(hx_ms), "hybrid_ann_warm": _stats(hy_ms),
            "recall@10": round(float(rec), 4), "index_items": len(index)}


CHILD = r"""
import json, sys, time
import numpy as np
sys.path.insert(0, sys.argv[3])
from rag_ann import FixedEmbedder
from slmkit.rag.retrieve import search
from slmkit.rag.store import Collection
q = json.loads(sys.argv[2])
emb = FixedEmbedder(); emb.vec = np.asarray(q["vec"], dtype=np.float32)
t = time.perf_counter()
with Collection("bench", sys.argv[1]) as coll:
    search(coll, emb, q["text"], k=5)
print(json.dumps({"ms": (time.perf_counter() - t) * 1000}))
"""


def measure_cold(home: Path, qs: list[dict]) -> dict:
    """One query per fresh process, as ``slm rag query`` runs it (imports excluded)."""
    ms = []
    for q in qs:
        out = subprocess.run([sys.executable, "-c", CHILD, str(home), json.dumps(q),
                              os.path.dirname(__file__)], capture_output=True, text=True,
                             check=True)
        ms.append(json.loads(out.stdout.strip().splitlines()[-1])["ms"])
    return _stats(ms)


def quality(work: Path, threads: int) -> dict:
    """Real embeddings (the default int8 MiniLM) on benchmarks/rag.py's synthetic corpus:
    hit@5 per question kind, exact search and FTS5 vs the ANN and BM25 index files forced
    on (the corpus is under the size where they are used by default), and dense recall@10
    of the ANN index."""
    import shutil

    from rag import _embedder, _passages
    from slmkit.rag import ann, lexical
    from slmkit.rag.evaluate import load_qa, retrieval_metrics
    from slmkit.rag.ingest import ingest, refresh_indexes
    from slmkit.rag.retrieve import dense, search
    from slmkit.rag.store import Collection
    from slmkit.rag.synthetic import build_corpus

    shutil.rmtree(work, ignore_errors=True)
    corpus = build_corpus(work / "corpus", _passages(), seed=0)
    emb = _embedder("all-minilm-l6-v2-int8", threads)
    qa = load_qa(corpus.qa_path)
    with Collection("bench-ann-qa", work / "home", create=True) as coll:
        ingest(coll, [corpus.folder], emb)
        refresh_indexes(coll, min_chunks=1)
        ann.ANN = ann.AnnCache(min_chunks=1)
        index = ann.ANN.get(coll)
        out = {"chunks": len(index)}
        for label, exact in (("exact", True), ("ann", False)):
            # "exact": exact dense and FTS5; "ann": the ANN and the BM25 index files
            lexical.LEX = lexical.LexCache(min_chunks=10**12 if exact else 1)
            out[label] = retrieval_metrics(
                lambda q, n, x=exact: search(coll, emb, q, k=n, exact=x), qa, k=5)
        assert lexical.LEX.get(coll) is not None  # the BM25 index answered the "ann" run
        qv = emb.embed_array([item["question"] for item in qa], check=False)
        rec = [len({c for c, _ in ann.dense(coll, index, v.tobytes(), 10)}
                   & {c for c, _ in dense(coll, v.tobytes(), 10)}) / 10 for v in qv]
        out["dense_recall@10"] = round(float(np.mean(rec)), 4)
    shutil.rmtree(work, ignore_errors=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--exact-queries", type=int, default=30)
    ap.add_argument("--cold", type=int, default=10, help="fresh-process queries")
    ap.add_argument("--rebuild", action="store_true")
    ap.add_argument("--build-only", action="store_true",
                    help="build (or resume building) the collection and its index, then stop")
    ap.add_argument("--quality", action="store_true",
                    help="hit@5 exact vs ANN on real embeddings instead (needs the embedder)")
    args = ap.parse_args()
    if args.quality:
        res = quality(Path("/tmp/slm-bench-rag-ann"), 2)
        print(json.dumps(res, indent=2))
        lines = [f"# RAG quality, exact dense + FTS5 vs the ANN + BM25 index files "
                 f"({res['chunks']} chunks, int8 MiniLM)", "",
                 f"dense recall@10 of the index: {res['dense_recall@10']}", "",
                 "| search | hit@5 | MRR@10 | " + " | ".join(
                     f"{k} hit@5" for k in res["exact"]["by_kind"]) + " |",
                 "|---|---|---|" + "---|" * len(res["exact"]["by_kind"])]
        for label in ("exact", "ann"):
            r = res[label]
            lines.append(f"| {label} | {r['hit@5']} | {r['mrr@10']} | " + " | ".join(
                str(v["hit@5"]) for v in r["by_kind"].values()) + " |")
        print(save("rag-ann-quality", {**res, "machine": machine()}, "\n".join(lines) + "\n"))
        return
    home = CACHE / f"rag-ann-{args.n}"
    db = home / "rag" / "bench.db"
    built = json.loads((home / "build.json").read_text()) if (home / "build.json").exists() \
        else None
    if args.rebuild or built is None:
        if args.rebuild:
            (home / "rows.json").unlink(missing_ok=True)
        print(f"building {args.n:,} chunks under {home}", flush=True)
        built = build(home, args.n)
        (home / "build.json").write_text(json.dumps(built))
    if "bm25_index_seconds" not in built:  # a collection cached before the BM25 index
        built["bm25_index_seconds"] = build_bm25(home)
        (home / "build.json").write_text(json.dumps(built))
    if args.build_only:
        print(json.dumps(built))
        return
    load0 = os.getloadavg()[0]
    qs = queries(home, args.queries)
    res = measure_warm(home, qs, args.exact_queries)
    res["hybrid_ann_fresh_process"] = measure_cold(home, qs[: args.cold])
    res.update(benchmark="rag-ann", n=args.n, build=built, db_bytes=db.stat().st_size,
               index_bytes=(home / "rag" / "bench.ann").stat().st_size,
               bm25_index_bytes=(home / "rag" / "bench.bm25").stat().st_size, machine=machine(),
               load_average=[round(load0, 2), round(os.getloadavg()[0], 2)])
    print(json.dumps(res, indent=2))
    lo, hi = sorted(res["load_average"])
    lines = [f"# RAG at {args.n:,} chunks: exact vs ANN (2-core machine, load average "
             f"{lo}-{hi} during the run)", "",
             f"Build: rows {built['rows_seconds'] or 'cached'} s, ANN index "
             f"{built['index_seconds']} s, BM25 index {built['bm25_index_seconds']} s; "
             f"database {res['db_bytes'] / 2**20:.0f} MiB, ANN index "
             f"{res['index_bytes'] / 2**20:.0f} MiB, BM25 index "
             f"{res['bm25_index_bytes'] / 2**20:.0f} MiB. recall@10 (ANN vs exact dense): "
             f"{res['recall@10']}; BM25 index scores equal to FTS5's (1e-6 relative) on "
             f"{res['bm25_index_same_scores']:.0%} of queries", "", "| measure | p50 ms | p95 ms | n |", "|---|---|---|---|"]
    for key in ("dense_exact", "dense_ann", "bm25", "bm25_index", "hybrid_exact",
                "hybrid_ann_warm", "hybrid_ann_fresh_process"):
        r = res[key]
        lines.append(f"| {key} | {r['p50_ms']} | {r['p95_ms']} | {r['n']} |")
    print(save(f"rag-ann-{args.n // 1000}k", res, "\n".join(lines) + "\n"))


if __name__ == "__main__":
    main()
