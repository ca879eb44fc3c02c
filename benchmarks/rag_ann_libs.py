"""Pick the ANN library by measurement: usearch, hnswlib and faiss-cpu on the same vectors.

Synthetic clustered unit vectors (384 dims, like MiniLM; a mixture of Gaussians, so the
neighbourhoods have structure like real embeddings, unlike uniform noise), queries near
stored points. Each library: build time, query p50/p95 (one query at a time, as the CLI and
the server search), recall@10 against exact float32 search, memory (the serialized index's
size, which is what the process maps or loads) and whether it can add and delete in place.

    python benchmarks/rag_ann_libs.py --n 100000 --threads 2

Libraries may come from outside the venv: ``PYTHONPATH=/tmp/annlibs`` (only the chosen
one, usearch, is a dependency of slmkit).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from _common import machine, save  # noqa: E402

DIM = 384


def clustered(n: int, dim: int = DIM, clusters: int = 2000, spread: float = 0.35,
              seed: int = 0) -> np.ndarray:
    """``n`` unit vectors around ``clusters`` random centres."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dim)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    out = np.empty((n, dim), dtype=np.float32)
    step = 50_000
    for i in range(0, n, step):
        m = min(step, n - i)
        x = centres[rng.integers(0, clusters, m)] + \
            spread * rng.standard_normal((m, dim)).astype(np.float32) / np.sqrt(dim) * 3
        out[i:i + m] = x / np.linalg.norm(x, axis=1, keepdims=True)
    return out


def queries_near(data: np.ndarray, n: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    q = data[rng.integers(0, len(data), n)] + 0.5 * rng.standard_normal(
        (n, data.shape[1])).astype(np.float32) / np.sqrt(data.shape[1])
    return q / np.linalg.norm(q, axis=1, keepdims=True)


def exact_top(data: np.ndarray, qs: np.ndarray, k: int) -> np.ndarray:
    out = []
    for q in qs:
        s = data @ q
        top = np.argpartition(-s, k)[:k]
        out.append(top[np.argsort(-s[top])])
    return np.array(out)


def recall(found: list, truth: np.ndarray, k: int) -> float:
    return float(np.mean([len(set(map(int, f[:k])) & set(map(int, t))) / k
                          for f, t in zip(found, truth, strict=True)]))


def timed_queries(fn, qs) -> tuple[list, list[float]]:
    found, ms = [], []
    for q in qs:
        t = time.perf_counter()
        found.append(fn(q))
        ms.append((time.perf_counter() - t) * 1000)
    return found, ms


def bench_usearch(data, qs, k, threads, tmp):
    from usearch.index import Index

    idx = Index(ndim=data.shape[1], metric="cos", dtype="i8", connectivity=16,
                expansion_add=128, expansion_search=64)
    t = time.perf_counter()
    idx.add(np.arange(len(data)), data, threads=threads)
    build = time.perf_counter() - t
    path = os.path.join(tmp, "u.usearch")
    idx.save(path)
    view = Index.restore(path, view=True)
    found, ms = timed_queries(lambda q: view.search(q, k).keys, qs)
    idx.remove(np.arange(10))  # delete in place
    return build, found, ms, os.path.getsize(path), "add + remove in place (int8, b1, f16)"


def bench_hnswlib(data, qs, k, threads, tmp):
    import hnswlib

    idx = hnswlib.Index(space="ip", dim=data.shape[1])
    idx.init_index(max_elements=len(data), M=16, ef_construction=128)
    t = time.perf_counter()
    idx.add_items(data, np.arange(len(data)), num_threads=threads)
    build = time.perf_counter() - t
    idx.set_ef(64)
    idx.set_num_threads(1)
    path = os.path.join(tmp, "h.bin")
    idx.save_index(path)
    found, ms = timed_queries(lambda q: idx.knn_query(q, k)[0][0], qs)
    idx.mark_deleted(0)
    return build, found, ms, os.path.getsize(path), "add + mark_deleted (float32 only)"


def bench_faiss(data, qs, k, threads, tmp):
    import faiss

    faiss.omp_set_num_threads(threads)
    idx = faiss.IndexHNSWSQ(data.shape[1], faiss.ScalarQuantizer.QT_8bit, 16,
                            faiss.METRIC_INNER_PRODUCT)
    idx.hnsw.efConstruction = 128
    t = time.perf_counter()
    idx.train(data)
    idx.add(data)
    build = time.perf_counter() - t
    idx.hnsw.efSearch = 64
    faiss.omp_set_num_threads(1)
    path = os.path.join(tmp, "f.index")
    faiss.write_index(idx, path)
    found, ms = timed_queries(lambda q: idx.search(q[None, :], k)[1][0], qs)
    return build, found, ms, os.path.getsize(path), "add only (HNSW has no remove_ids)"


LIBS = {"usearch": bench_usearch, "hnswlib": bench_hnswlib, "faiss": bench_faiss}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--libs", default="usearch,hnswlib,faiss")
    args = ap.parse_args()
    k = 10
    data = clustered(args.n)
    qs = queries_near(data, args.queries)
    truth = exact_top(data, qs, k)
    _, exact_ms = timed_queries(lambda q: np.argpartition(-(data @ q), k)[:k], qs[:50])
    rows = [{"library": "exact (numpy float32)", "build_s": 0.0,
             "p50_ms": statistics.median(exact_ms),
             "p95_ms": float(np.percentile(exact_ms, 95)), "recall@10": 1.0,
             "bytes": data.nbytes, "updates": "-"}]
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.libs.split(","):
            build, found, ms, size, upd = LIBS[name](data, qs, k, args.threads, tmp)
            rows.append({"library": name, "build_s": round(build, 1),
                         "p50_ms": round(statistics.median(ms), 3),
                         "p95_ms": round(float(np.percentile(ms, 95)), 3),
                         "recall@10": round(recall(found, truth, k), 4), "bytes": size,
                         "updates": upd})
            print(rows[-1], flush=True)
    md = [f"# ANN libraries at {args.n:,} x {DIM} (clustered synthetic, busy 2-core machine)",
          "", "| library | build s | p50 ms | p95 ms | recall@10 | index MB | add/delete |",
          "|---|---|---|---|---|---|---|"]
    md += [f"| {r['library']} | {r['build_s']} | {r['p50_ms']:.2f} | {r['p95_ms']:.2f} | "
           f"{r['recall@10']:.3f} | {r['bytes'] / 2**20:.0f} | {r['updates']} |" for r in rows]
    path = save("rag-ann-libs", {"machine": machine(), "n": args.n, "dim": DIM,
                                 "threads": args.threads, "rows": rows}, "\n".join(md) + "\n")
    print("\n".join(md))
    print(path)


if __name__ == "__main__":
    main()
