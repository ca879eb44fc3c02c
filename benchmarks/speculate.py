"""Prompt-lookup speculative decoding: the same prompts with and without it, one process.

Three tasks: summarizing a contract (benchmarks/data/review), answering from retrieved
passages (RAG-style, the answer quotes them) and an open-ended chat prompt. For each, two
engines on the same GGUF and threads (``speculate="off"`` and ``"auto"``) run alternately
for ``--rounds`` rounds; the greedy texts must be identical, and the median decode
tokens/s are compared (target: ≥ 1.5× on the input-grounded tasks, no slowdown > 3% on chat).

    python benchmarks/speculate.py [--model NAME|PATH] [--threads N] [--rounds 3] [--gen 128]
                                   [--draft NAME|PATH]   # a draft model instead of lookup
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

DATA = Path(__file__).parent / "data" / "review"


def tasks() -> dict[str, str]:
    """Prompt per task (user turn of a chat)."""
    contract = (DATA / "en-services.txt").read_text()
    passages = "\n".join(f"[{i + 1}] {p.strip()}" for i, p in enumerate(
        (DATA / "en-nda.txt").read_text().split("\n\n")[1:8]))
    return {
        "summarize": "Summarize the key terms of this agreement as a bulleted list, quoting "
                     f"each clause.\n\n{contract}",
        "rag": f"Passages:\n{passages}\n\nQuestion: How long do the confidentiality "
               "obligations last, and what happens to the information on request? Answer "
               "by quoting the passages.",
        "chat": "Write a short story about a robot who learns to paint.",
    }


def run_once(engine, prompt: str, n_gen: int) -> dict:
    from slmkit.core.types import GREEDY, ChatMessage, GenerateRequest, collect

    req = GenerateRequest(messages=[ChatMessage("user", prompt)], max_tokens=n_gen,
                          sampling=GREEDY)
    t0 = time.perf_counter()
    out = collect(engine.generate(req))
    u = out.usage
    return {"text": out.text, "tokens": u.completion_tokens, "seconds": time.perf_counter() - t0,
            "decode_tps": u.decode_tokens_per_second, "drafted": u.draft_tokens,
            "accepted": u.accepted_tokens}


def measure(model: str, threads: int, rounds: int, n_gen: int, draft: str | None = None) -> dict:
    """``draft``: the speculating engine drafts with this model instead of prompt lookup."""
    from slmkit.runtime import load_engine

    engines = {mode: load_engine(model, n_ctx=4096, n_threads=threads, speculate=mode,
                                 draft=draft if mode == "auto" else None)
               for mode in ("off", "auto")}
    try:
        results = {}
        for name, prompt in tasks().items():
            rows = {"off": [], "auto": []}
            for r in range(rounds):
                for mode in ("off", "auto") if r % 2 == 0 else ("auto", "off"):
                    rows[mode].append(run_once(engines[mode], prompt, n_gen))
            results[name] = _summary(rows)
            s = results[name]
            print(f"{name:9s} off {s['off_tps']:.1f} tok/s  auto {s['auto_tps']:.1f} tok/s  "
                  f"{s['ratio']:.2f}×  accepted {s['accepted']}/{s['drafted']}  "
                  f"identical={s['identical']}", flush=True)
        return results
    finally:
        for eng in engines.values():
            eng.close()


def _summary(rows: dict) -> dict:
    off = statistics.median(r["decode_tps"] for r in rows["off"])
    auto = statistics.median(r["decode_tps"] for r in rows["auto"])
    texts = {r["text"] for r in rows["off"] + rows["auto"]}
    last = rows["auto"][-1]
    return {"off_tps": off, "auto_tps": auto, "ratio": auto / off if off else float("nan"),
            "identical": len(texts) == 1, "tokens": last["tokens"], "drafted": last["drafted"],
            "accepted": last["accepted"], "runs": rows}


TARGETS = {"summarize": 1.5, "rag": 1.5, "chat": 0.97}


def markdown(results: dict, args) -> str:
    from _common import machine

    m = machine()
    how = f"draft {args.draft}" if args.draft else "prompt-lookup"
    lines = [f"speculate benchmark · {args.model} · {args.threads} threads · median of "
             f"{args.rounds} runs · {m['cpu']}, {m['physical_cores']} cores",
             "", f"| task | tokens | plain tok/s | {how} tok/s | ratio | accepted/drafted "
             "| same greedy text | target |", "|---|---|---|---|---|---|---|---|"]
    for name, s in results.items():
        t = TARGETS[name]
        verdict = "PASS" if s["ratio"] >= t else "FAIL"
        lines.append(f"| {name} | {s['tokens']} | {s['off_tps']:.1f} | {s['auto_tps']:.1f} | "
                     f"{s['ratio']:.2f}× | {s['accepted']}/{s['drafted']} | "
                     f"{'yes' if s['identical'] else 'NO'} | ≥ {t}× {verdict} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="smollm2-135m-instruct")
    p.add_argument("--threads", type=int, default=0, help="default: physical cores")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--gen", type=int, default=128)
    p.add_argument("--draft", help="draft with this model (same tokenizer) instead of "
                                   "prompt lookup")
    args = p.parse_args()
    sys.path.insert(0, str(Path(__file__).parent))
    from _common import machine, save
    from decode import _model_path

    if args.threads <= 0:
        from slmkit.util.threads import physical_threads

        args.threads = physical_threads()
    path = _model_path(args.model)
    results = measure(path, args.threads, args.rounds, args.gen,
                      _model_path(args.draft) if args.draft else None)
    md = markdown(results, args)
    print("\n" + md)
    payload = {"benchmark": "speculate", "model": args.model, "path": path, "draft": args.draft,
               "threads": args.threads, "rounds": args.rounds, "machine": machine(),
               "results": {k: {kk: vv for kk, vv in v.items() if kk != "runs"}
                           for k, v in results.items()},
               "runs": {k: v["runs"] for k, v in results.items()}}
    print(f"saved {save('speculate-draft' if args.draft else 'speculate', payload, md)}")
    return 0 if all(s["identical"] for s in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
