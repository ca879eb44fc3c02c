"""`slm code ask` retrieval: does a question naming a function read that function first?

This repository's own ``src/slmkit/rag`` (or ``--repo``) is indexed into a temporary
collection with the default embedder; for every top-level function and method, the question
``what does NAME do?`` is asked of the plain hybrid search (the anchor, measured in the same
run) and of the code retriever (definition first). Reported: top-1 and top-3 rate of a chunk
*defining* that symbol, indexing time and chunks. Busy machine: seconds are wall clock
under load. The temporary collection is removed.

    SLM_HOME=~/.cache/slmkit/test-home python benchmarks/code_ask.py [--repo DIR] [--n 60]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
from _common import machine, save

from slmkit.formats.code import units
from slmkit.rag.code import collection_name, ingest_repo, parse_header, repo_files
from slmkit.rag.code_ask import CodeRetriever
from slmkit.rag.retrieve import search
from slmkit.rag.serving import store_embedder
from slmkit.rag.store import Collection


def symbols(root: Path) -> list[str]:
    """Function and method names (``Class.method`` for methods) defined once in the repo."""
    seen: dict[str, int] = {}
    for f in repo_files(root):
        if f.suffix == ".py":
            for u in units(f.name, f.read_text(encoding="utf-8")):
                if u.kind in ("function", "method"):
                    seen[u.symbol] = seen.get(u.symbol, 0) + 1
    return sorted(s for s, n in seen.items() if n == 1)


def rank_of(passages, symbol: str) -> int | None:
    for i, p in enumerate(passages, 1):
        head = parse_header(p.text)
        if head and (head[1] == symbol or head[1].endswith("." + symbol)):
            return i
    return None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repo", default=str(ROOT / "src/slmkit/rag"))
    ap.add_argument("--n", type=int, default=60, help="symbols asked about (sampled)")
    args = ap.parse_args()
    root = Path(args.repo).resolve()
    names = symbols(root)
    random.Random(0).shuffle(names)
    names = names[:args.n]
    embedder = store_embedder(None, pull_missing=False)
    with tempfile.TemporaryDirectory() as home, \
            Collection(collection_name(root), home, create=True) as coll:
        t0 = time.perf_counter()
        report = ingest_repo(coll, root, embedder)
        index_s = time.perf_counter() - t0
        code = CodeRetriever(coll, embedder)
        plain, ours = [], []
        for name in names:
            q = f"what does {name} do?"
            plain.append(rank_of(search(coll, embedder, q, k=3), name))
            ours.append(rank_of(code.retrieve(q, 3), name))
    out = {"repo": str(root), "machine": machine(), "busy_machine": True,
           "symbols": len(names), "files": len(report.added), "chunks": report.chunks,
           "index_seconds": round(index_s, 1),
           "hybrid": rates(plain), "code_retriever": rates(ours)}
    md = (f"| retriever | top-1 | top-3 |\n|---|---|---|\n"
          f"| hybrid search (anchor) | {out['hybrid']['top1']:.2f} | "
          f"{out['hybrid']['top3']:.2f} |\n"
          f"| code retriever (definition first) | {out['code_retriever']['top1']:.2f} | "
          f"{out['code_retriever']['top3']:.2f} |\n\n"
          f"{len(names)} symbols of {root.name}/ ({out['files']} files, {out['chunks']} chunks "
          f"indexed in {out['index_seconds']} s, busy machine)\n")
    print(md)
    save("code_ask", out, md)
    return 0


def rates(ranks: list[int | None]) -> dict:
    n = len(ranks) or 1
    return {"top1": round(sum(r == 1 for r in ranks) / n, 3),
            "top3": round(sum(r is not None and r <= 3 for r in ranks) / n, 3)}


if __name__ == "__main__":
    raise SystemExit(main())
