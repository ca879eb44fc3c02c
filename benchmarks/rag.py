"""RAG benchmark, one run: the embedders side by side (chunks/s, quality), ingest speed
against embedding alone, retrieval latency at 10k and 100k chunks, hybrid fusions vs
dense-only vs BM25-only on the synthetic QA set and the runbook set, and citation accuracy.

    SLM_HOME=/tmp/realhome python benchmarks/rag.py [--threads 2] [--sizes 10000,100000]
        [--embedders all-minilm-l6-v2,all-minilm-l6-v2-int8] [--answers 20 --model NAME]

The first embedder named is the anchor (sentence-transformers on torch, the old default);
speeds are printed as ratios to it, measured interleaved in the same run.

Targets (issue 7): ingest overhead over embedding alone < 20 %; retrieval p95 <= 50 ms at
100k chunks; hybrid >= dense-only + 5 points hit@5 on identifier questions.

- Ingest: the synthetic corpus (runbooks, tickets, parts list, Wikipedia articles) is chunked
  once and its chunks embedded alone (the anchor: ``embed_array`` on the same texts and batch
  size), then ingested end to end (hash, load, chunk, embed, store) into a fresh collection;
  each is timed twice and the faster run kept.
- Latency: collections of N chunks with random unit vectors (384 dims, the embedder's) and
  Wikipedia sentences as text; queries are Wikipedia word pairs with a random vector, so
  the times are the store's (query embedding is measured separately, once).
- Quality: hit@5 and MRR@10 per question kind; the "I don't know" threshold is chosen on the
  top similarities of answerable vs unanswerable questions.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _common import machine, save

EMBEDDERS = "all-minilm-l6-v2,all-minilm-l6-v2-int8"
FUSIONS = ("adaptive", "convex", "rrf")


def _embedder(name: str, threads: int):
    from slmkit.rag import embedders

    return embedders.load(name, threads=threads)


def _passages() -> list[str]:
    from slmkit.evaluate import datasets

    return datasets.load_texts(datasets.resolve("wikipedia", kind="text"))


def bench_ingest(emb, folder: Path, home: Path, rounds: int = 1) -> dict:
    from slmkit.rag.chunking import chunk_sections
    from slmkit.rag.ingest import ingest
    from slmkit.rag.loaders import load_file
    from slmkit.rag.store import Collection, drop_collection

    texts = []
    for f in sorted(folder.iterdir()):
        texts += [c.text for c in chunk_sections(load_file(f), emb)]
    alone, full, report = [], [], None
    for _ in range(rounds):
        t = time.perf_counter()
        emb.embed_array(texts, check=False)
        alone.append(time.perf_counter() - t)
        drop_collection("bench-ingest", home)
        with Collection("bench-ingest", home, create=True) as coll:
            t = time.perf_counter()
            report = ingest(coll, [folder], emb)
            full.append(time.perf_counter() - t)
    a, f = min(alone), min(full)
    return {"chunks": len(texts), "tokens": report.tokens, "files": len(report.added),
            "embed_alone_s": round(a, 3), "ingest_s": round(f, 3),
            "embed_alone_chunks_per_s": round(len(texts) / a, 1),
            "ingest_chunks_per_s": round(report.chunks / f, 1),
            "overhead": round(f / a - 1, 4), "runs_embed_alone_s": [round(x, 3) for x in alone],
            "runs_ingest_s": [round(x, 3) for x in full]}


def bench_speed(embs: list, texts: list[str], rounds: int = 2) -> dict:
    """Chunks/s of each embedder on the same chunks, interleaved round by round (a busy
    machine's load then hits every embedder alike); the best round of each is kept."""
    times: dict[str, list[float]] = {e.name: [] for e in embs}
    for _ in range(rounds):
        for e in embs:
            t = time.perf_counter()
            e.embed_array(texts, check=False)
            times[e.name].append(time.perf_counter() - t)
    anchor = min(times[embs[0].name])
    return {name: {"chunks_per_s": round(len(texts) / min(ts), 2),
                   "speedup": round(anchor / min(ts), 2), "runs_s": [round(x, 2) for x in ts]}
            for name, ts in times.items()}


def _modes(coll, emb, qa) -> dict:
    from slmkit.rag.evaluate import retrieval_metrics
    from slmkit.rag.retrieve import search

    out = {}
    for mode, fusion in [("dense", "rrf"), ("bm25", "rrf")] + [("hybrid", f) for f in FUSIONS]:
        key = mode if mode != "hybrid" else f"hybrid-{fusion}"
        out[key] = retrieval_metrics(
            lambda q, n, m=mode, f=fusion: search(coll, emb, q, k=n, mode=m, fusion=f), qa, k=5)
    return out


def bench_runbooks(emb, home: Path, work: Path) -> dict:
    """Modes and fusions on the hand-written runbook set (paraphrase questions)."""
    from slmkit.rag.evaluate import load_qa
    from slmkit.rag.ingest import ingest
    from slmkit.rag.runbooks import write_runbooks
    from slmkit.rag.store import Collection, drop_collection

    docs, qa = write_runbooks(work / "runbooks")
    drop_collection("bench-runbooks", home)
    with Collection("bench-runbooks", home, create=True) as coll:
        ingest(coll, [docs], emb)
        return _modes(coll, emb, load_qa(qa))


def bench_quality(emb, home: Path, qa_path: Path, folder: Path) -> dict:
    from slmkit.rag.evaluate import load_qa
    from slmkit.rag.ingest import ingest
    from slmkit.rag.retrieve import search
    from slmkit.rag.store import Collection, drop_collection

    qa = load_qa(qa_path)
    drop_collection("bench-qa", home)
    with Collection("bench-qa", home, create=True) as coll:
        ingest(coll, [folder], emb)
        out = _modes(coll, emb, qa)
        sims = {"answerable": [], "unanswerable": []}
        for item in qa:
            if item["kind"] == "identifier":
                continue
            hits = search(coll, emb, item["question"], k=5)
            key = "unanswerable" if item.get("answerable") is False else "answerable"
            sims[key].append(max((h.similarity for h in hits), default=0.0))
    out["threshold"] = _threshold(sims)
    return out


def _threshold(sims: dict) -> dict:
    """The cosine cut that best separates answerable from unanswerable prose questions."""
    best = (0.0, 0.0)
    for t in [x / 100 for x in range(5, 80)]:
        acc = (sum(s >= t for s in sims["answerable"]) + sum(s < t for s in sims["unanswerable"]))
        acc /= max(1, len(sims["answerable"]) + len(sims["unanswerable"]))
        if acc > best[1]:
            best = (t, acc)
    q = statistics.quantiles
    return {"best": best[0], "accuracy": round(best[1], 4),
            "answerable_quartiles": [round(x, 3) for x in q(sims["answerable"], n=4)],
            "unanswerable_quartiles": [round(x, 3) for x in q(sims["unanswerable"], n=4)],
            "n_answerable": len(sims["answerable"]), "n_unanswerable": len(sims["unanswerable"])}


class _Vectors:
    """Random query vectors (latency only: the store's work, not the embedder's)."""

    name, dimension, max_tokens = "synthetic-vectors", 384, 256

    def __init__(self, seed: int = 0) -> None:
        import numpy as np

        self.rng = np.random.default_rng(seed)

    def embed(self, texts):
        import numpy as np

        v = self.rng.standard_normal((len(texts), self.dimension)).astype(np.float32)
        return (v / np.linalg.norm(v, axis=1, keepdims=True)).tolist()


def bench_latency(n: int, home: Path, sentences: list[str], queries: int) -> dict:
    import numpy as np

    from slmkit.rag.retrieve import VectorCache, dense, search
    from slmkit.rag.store import Collection, drop_collection

    name = f"bench-{n}"
    drop_collection(name, home)
    rng = np.random.default_rng(n)
    t = time.perf_counter()
    with Collection(name, home, create=True) as coll:
        coll.bind_embedder("synthetic-vectors", 384)
        with coll.write():
            coll.conn.execute("INSERT INTO documents(id, path, sha256, doc_type, mtime, size, "
                              "n_chunks, ingested_at) VALUES (1, '/bench.txt', '', 'text', 0, 0, "
                              "?, 0)", (n,))
            for start in range(0, n, 10_000):
                m = min(10_000, n - start)
                vecs = rng.standard_normal((m, 384)).astype(np.float32)
                vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
                rows = [(start + i + 1, sentences[(start + i) % len(sentences)]
                         + f" ERR-{start + i:06d}") for i in range(m)]
                coll.conn.executemany("INSERT INTO chunks(id, doc_id, ord, text, char_start, "
                                      "char_end) VALUES (?, 1, 0, ?, 0, 0)", rows)
                coll.conn.executemany("INSERT INTO chunks_fts(rowid, text) VALUES (?, ?)", rows)
                coll.conn.executemany("INSERT INTO chunks_vec(id, emb) VALUES (?, ?)",
                                      ((start + i + 1, vecs[i].tobytes()) for i in range(m)))
    build = time.perf_counter() - t
    words = [w for s in sentences[:2000] for w in s.split() if len(w) > 4 and w.isalpha()]
    qrng = random.Random(n)
    out = {"chunks": n, "build_s": round(build, 2)}
    vectors = _Vectors(n)
    cache = VectorCache(min_chunks=0)
    with Collection(name, home) as coll:
        t = time.perf_counter()
        cache.matrix(coll)
        out["cache_load_s"] = round(time.perf_counter() - t, 3)
        recall = []
        for label, mode, c in (("dense_vec0", "dense", None), ("bm25", "bm25", None),
                               ("hybrid_vec0", "hybrid", None), ("dense", "dense", cache),
                               ("hybrid", "hybrid", cache)):
            times = []
            for i in range(queries + 3):
                q = f"{qrng.choice(words)} {qrng.choice(words)}"
                if i % 5 == 0:
                    q += f" ERR-{qrng.randrange(n):06d}"
                t = time.perf_counter()
                search(coll, vectors, q, k=5, mode=mode, cache=c)
                if i >= 3:  # warm-up
                    times.append(time.perf_counter() - t)
            times.sort()
            out[label] = {"p50_ms": round(times[len(times) // 2] * 1000, 2),
                          "p95_ms": round(times[int(len(times) * 0.95) - 1] * 1000, 2)}
        for _ in range(5):  # the cached matrix and vec0 agree
            qv = np.asarray(vectors.embed(["x"])[0], dtype=np.float32).tobytes()
            a = [i for i, _ in dense(coll, qv, 10)]
            b = [i for i, _ in dense(coll, qv, 10, cache=cache)]
            recall.append(len(set(a) & set(b)) / 10)
        out["cache_agrees_with_vec0"] = min(recall)
    drop_collection(name, home)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--sizes", default="10000,100000", help="latency sizes ('' skips)")
    ap.add_argument("--queries", type=int, default=60)
    ap.add_argument("--embedders", default=EMBEDDERS, help="the first is the anchor")
    ap.add_argument("--speed-chunks", type=int, default=0, metavar="N",
                    help="time the embedders on every Nth-spread N chunks (default all)")
    ap.add_argument("--work", default="/tmp/slm-bench-rag")
    ap.add_argument("--latency-only", action="store_true",
                    help="rerun only the latency part, keeping the rest of the last results")
    args = ap.parse_args()
    from slmkit.rag.chunking import chunk_sections
    from slmkit.rag.loaders import load_file
    from slmkit.rag.synthetic import build_corpus

    work = Path(args.work)
    shutil.rmtree(work, ignore_errors=True)
    home = work / "home"
    passages = _passages()
    corpus = build_corpus(work / "corpus", passages, seed=0)
    embs = [_embedder(n, args.threads) for n in args.embedders.split(",")]
    if args.latency_only:
        return _latency_only(args, embs[-1], passages, home)
    print(f"corpus: {corpus.n_documents} files, {corpus.n_questions} questions", flush=True)
    texts = [c.text for f in sorted(corpus.folder.iterdir())
             for c in chunk_sections(load_file(f), embs[0])]
    step = max(1, len(texts) // args.speed_chunks) if args.speed_chunks else 1
    speed = bench_speed(embs, texts[::step])
    print(f"speed: {speed}", flush=True)
    per = {}
    for e in embs:
        per[e.name] = {"query_embed_ms": _query_embed_ms(e),
                       "ingest": bench_ingest(e, corpus.folder, home),
                       "quality": bench_quality(e, home, corpus.qa_path, corpus.folder),
                       "runbooks": bench_runbooks(e, home, work)}
        print(f"{e.name}: done", flush=True)
    sentences = [s for p in passages for s in p.split(". ") if len(s.split()) > 5]
    latency = [bench_latency(int(n), home, sentences, args.queries)
               for n in args.sizes.split(",") if n.strip()]
    payload = {"machine": machine(), "load_average": os.getloadavg(), "threads": args.threads,
               "embedders": [e.name for e in embs], "speed": speed, "per_embedder": per,
               "corpus": {"files": corpus.n_documents, "questions": corpus.n_questions,
                          "chunks": len(texts)}, "latency": latency}
    md = markdown(payload)
    path = save("rag", payload, md)
    print(md)
    print(f"wrote {path}")
    return 0


def _query_embed_ms(emb) -> float:
    times = []
    for _ in range(6):
        t = time.perf_counter()
        emb.embed(["How do I reset the controller after ERR-4012?"])
        times.append(time.perf_counter() - t)
    return round(statistics.median(times[1:]) * 1000, 2)  # after a warm-up call


def _latency_only(args, emb, passages, home) -> int:
    import json

    from _common import RESULTS

    path = RESULTS / f"rag-{time.strftime('%Y-%m-%d')}.json"
    payload = json.loads(path.read_text())
    sentences = [s for p in passages for s in p.split(". ") if len(s.split()) > 5]
    payload["latency"] = [bench_latency(int(n), home, sentences, args.queries)
                          for n in args.sizes.split(",")]
    payload["query_embed_ms"] = _query_embed_ms(emb)
    payload["latency_rerun"] = {"load_average": os.getloadavg(), "note":
                                "latency part rerun with --latency-only"}
    md = markdown(payload)
    save("rag", payload, md)
    print(md)
    return 0


def _cell(m: dict, kind: str | None = None) -> str:
    if kind is not None:
        m = m["by_kind"].get(kind, {})
    return f"{m.get('hit@5', 0):.3f} / {m.get('mrr@10', 0):.3f}"


def markdown(p: dict) -> str:
    anchor = p["embedders"][0]
    lines = [f"# RAG benchmark ({time.strftime('%Y-%m-%d')})", "",
             (f"Machine: {p['machine']['cpu']}, {p['machine']['physical_cores']} cores, "
              f"{p['threads']} threads per embedder; load average at the end "
              f"{', '.join(f'{x:.1f}' for x in p['load_average'])} (busy shared machine: "
              "compare the ratios, not the absolute speeds). Corpus: "
              f"{p['corpus']['files']} files, {p['corpus']['chunks']} chunks, "
              f"{p['corpus']['questions']} questions."), "",
             "## Embedders side by side", "",
             ("| embedder | chunks/s (embedding alone) | vs anchor | ingest end to end | "
              "query embedding | hybrid hit@5 / MRR@10 | dense hit@5 / MRR@10 |"),
             "|---|---|---|---|---|---|---|"]
    for name in p["embedders"]:
        sp, e = p["speed"][name], p["per_embedder"][name]
        q = e["quality"]
        lines.append(f"| {name}{' (anchor)' if name == anchor else ''} | {sp['chunks_per_s']}"
                     f" | {sp['speedup']}× | {e['ingest']['ingest_chunks_per_s']} chunks/s | "
                     f"{e['query_embed_ms']} ms | {_cell(q['hybrid-adaptive'])} | "
                     f"{_cell(q['dense'])} |")
    for name in p["embedders"]:
        for label, key, kinds in (
                ("synthetic QA set", "quality", ("identifier", "prose")),
                ("runbook set", "runbooks", ("runbook-identifier", "runbook-keyword",
                                             "runbook-paraphrase"))):
            m = p["per_embedder"][name][key]
            lines += ["", f"## {label}, {name} (hit@5 / MRR@10; p50 latency per query)", "",
                      "| retriever | all | " + " | ".join(kinds) + " | p50 |",
                      "|---|---|" + "---|" * len(kinds) + "---|"]
            for mode in ("dense", "bm25", *(f"hybrid-{f}" for f in FUSIONS)):
                r = m[mode]
                lines.append(f"| {mode} | {_cell(r)} | "
                             + " | ".join(_cell(r, k) for k in kinds)
                             + f" | {r.get('p50_ms', 0)} ms |")
    if p["latency"]:
        lines += ["", "## Retrieval latency (store only), p50 / p95", "",
                  "| chunks | dense, vec0 | hybrid, vec0 | BM25 | dense, cached | hybrid, "
                  "cached | matrix load |", "|---|---|---|---|---|---|---|"]
        for r in p["latency"]:
            lines.append(f"| {r['chunks']:,} | " + " | ".join(
                f"{r[m]['p50_ms']} / {r[m]['p95_ms']} ms"
                for m in ("dense_vec0", "hybrid_vec0", "bm25", "dense", "hybrid"))
                + f" | {r['cache_load_s']} s |")
    t = p["per_embedder"][p["embedders"][-1]]["quality"]["threshold"]
    lines += ["", (f"\"I don't know\" threshold ({p['embedders'][-1]}): cosine {t['best']} "
              f"separates answerable from unanswerable prose questions with accuracy "
              f"{t['accuracy']} (top-similarity quartiles: answerable "
              f"{t['answerable_quartiles']}, unanswerable {t['unanswerable_quartiles']})."), ""]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
