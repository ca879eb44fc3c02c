"""Citation accuracy of `rag ask` on questions whose answer sits in a known file (issue 14
item 5), before and after checking citations against the passages they name.

    SLM_HOME=/tmp/realhome python benchmarks/rag_cite.py [--model NAME] [--k 3]

The runbook set (``slmkit.rag.runbooks``: 6 runbooks, 20 questions, each answered by one
file) is ingested and every question answered once, greedily. From the same answer text:

- *before* (the old rule): the model's ``[n]``, else the sources covering ≥ 30 % of the
  answer's words; always ``grounded``;
- *after*: :func:`slmkit.rag.cite.check` — each ``[n]`` checked against passage n,
  unsupported ones rejected and re-assigned, ``grounded`` only when a passage supports it.

Citation accuracy = share of cited answers whose first citation is the right file; "wrong
but grounded" = answers marked grounded whose citations miss the right file.

``--oracle`` needs no language model: each question's answer is the gold sentence (the
one holding the evidence, from the known file), cited once as each retrieved source in
turn — a model citing [1], [2], [3] for the same true answer. *Before*, the citation is
taken as given; *after*, it goes through the check. This measures the checker alone.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _common import machine, save


def _before(ans, A) -> list[int]:
    cited = A.parse_citations(ans.text, len(ans.passages))
    return cited or A.attribute(ans.text, ans.passages)


def _score(rows: list[dict], key: str, grounded_key: str | None) -> dict:
    cited = [r for r in rows if r[key]]
    right = [r for r in cited if r[key][0] == r["source"]]
    grounded = [r for r in rows if (r[grounded_key] if grounded_key else r["asked"])]
    wrong_grounded = [r for r in grounded if r["source"] not in r[key]]
    return {"answers": len(rows), "cited": len(cited),
            "citation_accuracy": round(len(right) / len(cited), 4) if cited else None,
            "grounded": len(grounded), "wrong_but_grounded": len(wrong_grounded)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default=None, help="language model (default: the default)")
    ap.add_argument("--k", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--oracle", action="store_true", help="gold answers, no language model")
    args = ap.parse_args()
    if args.oracle:
        return oracle(args)
    from slmkit.models.store import Store
    from slmkit.rag import answer as A
    from slmkit.rag import embedders
    from slmkit.rag.evaluate import load_qa
    from slmkit.rag.ingest import ingest
    from slmkit.rag.retrieve import Retriever
    from slmkit.rag.runbooks import write_runbooks
    from slmkit.rag.store import Collection
    from slmkit.runtime import load_engine

    work = Path(tempfile.mkdtemp(prefix="slm-rag-cite-"))
    docs, qa_path = write_runbooks(work)
    emb = embedders.load(threads=args.threads)
    ref = Store().resolve(args.model)
    engine = load_engine(ref.path, name=ref.name, n_ctx=4096, n_threads=args.threads)
    rows = []
    with Collection("cite", work / "home", create=True) as coll:
        ingest(coll, [docs], emb)
        retriever = Retriever(coll, emb)
        for item in load_qa(qa_path):
            ans = A.answer(engine, retriever, item["question"], k=args.k,
                           max_tokens=args.max_tokens)
            name = [Path(p.source).name for p in ans.passages]
            rows.append({"question": item["question"], "source": item["source"],
                         "answer": ans.text, "asked": bool(ans.generate_seconds),
                         "before": [name[n - 1] for n in _before(ans, A)] if ans.passages
                         else [], "after": [Path(c["source"]).name for c in ans.citations()],
                         "grounded": ans.grounded, "rejected": ans.rejected,
                         "cited_by_model": ans.cited_by_model})
            print(rows[-1], flush=True)
    engine.close()
    res = {"before": _score(rows, "before", None), "after": _score(rows, "after", "grounded")}
    payload = {"machine": machine(), "load_average": os.getloadavg(), "model": ref.name,
               "k": args.k, "results": res, "rows": rows}
    lines = [f"# Citation accuracy of `rag ask` ({time.strftime('%Y-%m-%d')})", "",
             (f"Model {ref.name}, greedy, k={args.k}, the runbook set ({len(rows)} questions, "
              "each answered by one known file)."), "",
             "| rule | cited answers | citation accuracy | grounded | wrong but grounded |",
             "|---|---|---|---|---|"]
    for label, r in res.items():
        lines.append(f"| {label} | {r['cited']}/{r['answers']} | {r['citation_accuracy']} | "
                     f"{r['grounded']} | {r['wrong_but_grounded']} |")
    md = "\n".join(lines) + "\n"
    path = save("rag-cite", payload, md)
    print(md)
    print(f"wrote {path}")
    return 0


def _gold(docs: Path, item: dict) -> str:
    import re

    text = " ".join((docs / item["source"]).read_text().split())
    return next(s for s in re.split(r"(?<=[.!?])\s+", text) if item["evidence"] in s)


def oracle(args) -> int:
    from slmkit.rag import answer as A
    from slmkit.rag import embedders
    from slmkit.rag.evaluate import load_qa
    from slmkit.rag.ingest import ingest
    from slmkit.rag.retrieve import search
    from slmkit.rag.runbooks import write_runbooks
    from slmkit.rag.store import Collection

    work = Path(tempfile.mkdtemp(prefix="slm-rag-cite-"))
    docs, qa_path = write_runbooks(work)
    emb = embedders.load(threads=args.threads)
    rows = []
    with Collection("cite", work / "home", create=True) as coll:
        ingest(coll, [docs], emb)
        for item in load_qa(qa_path):
            hits = search(coll, emb, item["question"], k=args.k)
            gold = _gold(docs, item)
            for n in range(1, len(hits) + 1):
                ans = A.finish(A.Answer(item["question"], f"{gold} [{n}]", list(hits)))
                rows.append({"question": item["question"], "source": item["source"], "n": n,
                             "asked": True, "before": [Path(hits[n - 1].source).name],
                             "after": [Path(c["source"]).name for c in ans.citations()],
                             "grounded": ans.grounded, "rejected": ans.rejected})
    res = {"before": _score(rows, "before", None), "after": _score(rows, "after", "grounded")}
    payload = {"machine": machine(), "mode": "oracle", "k": args.k, "results": res,
               "rows": rows}
    lines = [f"# Citation check on gold answers ({time.strftime('%Y-%m-%d')})", "",
             (f"The runbook set, k={args.k}: each question's gold sentence cited as each "
              f"retrieved source in turn ({len(rows)} citations, {len(rows) // args.k} "
              "questions)."), "",
             "| rule | cited | citation accuracy | grounded | wrong but grounded |",
             "|---|---|---|---|---|"]
    for label, r in res.items():
        lines.append(f"| {label} | {r['cited']}/{r['answers']} | {r['citation_accuracy']} | "
                     f"{r['grounded']} | {r['wrong_but_grounded']} |")
    md = "\n".join(lines) + "\n"
    path = save("rag-cite-oracle", payload, md)
    print(md)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
