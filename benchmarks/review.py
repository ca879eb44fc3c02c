"""Document review benchmark, one run: field accuracy, evidence-span accuracy, hallucination
rate and seconds per document on the hand-written labelled contracts in
benchmarks/data/review/ (English and Korean), for direct constrained extraction against
free text then extraction, and retrieved clauses against the whole document.

    SLM_HOME=~/.cache/slmkit/test-home python benchmarks/review.py \
        [--models qwen2.5-coder-0.5b-instruct] [--configs direct/retrieve,free/retrieve]

Hallucinated = a value reported found whose evidence is not verbatim in the document (the
verifier makes this 0 by construction; the count checks it). "rejected" = model proposals
the verifier turned into "not found" (what would have been invented without it).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _common import machine, save

DATA = Path(__file__).parent / "data" / "review"
ROWS = Path(__file__).parent / "results" / "rows"


def interleaved(names: list[str]) -> list[str]:
    """English and Korean documents alternately, so that a prefix has both languages."""
    en = [n for n in names if not n.startswith("ko-")]
    ko = [n for n in names if n.startswith("ko-")]
    out = [n for pair in zip(en, ko) for n in pair]
    return out + en[len(ko):] + ko[len(en):]


def run_model(model: str, order: list[str], caches: dict, args) -> None:
    """Score the documents of ``order`` one by one, every config on each before the next
    one, appending to the caches: a run cut short still compares the configs on the same
    documents."""
    import slmkit
    from slmkit.apps.review.evaluate import evaluate
    from slmkit.apps.review.pipeline import ReviewOptions
    from slmkit.util.files import read_rows

    todo = [n for n in order if any(n not in read_rows(c, "document") for c in caches.values())]
    if not todo:
        return
    engine = slmkit.load(model, n_ctx=args.ctx, n_threads=args.threads, pull=False,
                         n_parallel=1)
    try:
        for doc in todo:
            for cfg, cache in caches.items():
                extraction, mode = cfg.split("/")
                t0 = time.time()
                evaluate(args.data, engine, ReviewOptions(mode=mode, extraction=extraction),
                         cache=cache, only=[doc])
                print(f"{model} {cfg} {doc}: {time.time() - t0:.0f}s", file=sys.stderr,
                      flush=True)
    finally:
        engine.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument("--models", default="smollm2-135m-instruct,qwen2.5-coder-0.5b-instruct")
    ap.add_argument("--configs", default="direct/retrieve,free/retrieve,direct/stuff")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--ctx", type=int, default=4096)
    ap.add_argument("--limit", type=int, default=None,
                    help="N documents only (English and Korean alternately)")
    ap.add_argument("--cached-only", action="store_true",
                    help="run nothing: report the documents every model and config has cached")
    ap.add_argument("--cache-dir", default=str(ROWS),
                    help="per-document rows, reused on a rerun (resume after an interruption)")
    args = ap.parse_args()
    from slmkit.apps.review.evaluate import documents, evaluate, leak_count
    from slmkit.guard.session import MaskSession
    from slmkit.apps.review.pipeline import ReviewOptions
    from slmkit.util.files import read_rows

    load0 = os.getloadavg()[0]
    name = "review-" + "-".join(m.split("-")[0] for m in args.models.split(",") if m)
    rows, payload = [], {"machine": machine(), "load_avg_start": load0, "results": {}}
    order = interleaved([n for n, _ in documents(args.data)])[:args.limit]
    docs = {}
    for model in [m for m in args.models.split(",") if m]:
        caches = {cfg: Path(args.cache_dir) / f"review-{model}-{cfg.replace('/', '-')}.jsonl"
                  for cfg in args.configs.split(",")}
        if not args.cached_only:
            run_model(model, order, caches, args)
        done = set(order)  # the documents every config of this model has scored
        for cache in caches.values():
            done &= set(read_rows(cache, "document"))
        docs[model] = [n for n in order if n in done]
        for cfg, cache in caches.items():
            extraction, mode = cfg.split("/")
            r = evaluate(args.data, None, ReviewOptions(mode=mode, extraction=extraction),
                         cache=cache, only=done)
            payload["results"][f"{model} {cfg}"] = r
            n_fields = sum(d["fields"] for d in r["per_document"].values())
            rows.append(f"| {model} | {extraction} | {mode} | {r['exact_match']:.2f} | "
                        f"{r['f1']:.2f} | {r['evidence_accuracy']:.2f} | "
                        f"{r['hallucinated']} | {r['found_but_absent']} | "
                        f"{r['rejected_by_verifier']} | {r['seconds_per_doc']:.1f} | "
                        f"{r['documents']} ({n_fields} fields) |")
    payload["documents"] = docs
    leaks = leak_count(args.data, MaskSession)
    payload["pii"] = leaks
    leaked = sorted({v for r in leaks["per_document"].values() for v in r["pii_leaked"]})
    name += f"-n{max((len(v) for v in docs.values()), default=0)}"
    md = [f"# Review benchmark ({Path(args.data).name}: {len(order)} labelled contracts)\n",
          f"Busy machine: load average {load0:.1f} at start; seconds are context only. "
          "Each model is scored on the documents all its configs finished (English and "
          "Korean alternately: " + ", ".join(order) + ").\n",
          "| model | extraction | clauses | exact match | F1 | evidence accuracy | "
          "hallucinated | found but absent | rejected by verifier | s/doc | docs |",
          "|---|---|---|---|---|---|---|---|---|---|---|", *rows,
          f"\nPersonal data leaked to the upstream (the guard's masking, no model; every "
          f"field of each contract handed off with the whole contract): {leaks['pii_leaks']} "
          f"(target 0) of {leaks['pii_planted']} planted values in "
          f"{len(leaks['per_document'])} contracts" + (f"; leaked: {', '.join(leaked)}"
                                                       if leaked else "") + "."]
    text = "\n".join(md) + "\n"
    print(text)
    print(f"saved {save(name, payload, text)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
