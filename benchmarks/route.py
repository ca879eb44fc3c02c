"""Router overhead: the time the RoutedEngine adds on top of the engines it routes to.

Three measurements in one run:
1. the router's own time per request (tags, length check, judging, budget query, guard
   masking, unmasking) as it records it (``decision.overhead_ms``);
2. end to end on the same engines, including the ledger write (a SQLite file): routed vs
   direct, for local answers (a stub local engine, so engine noise does not hide the
   router) and for escalations (the real HTTP recording upstream from tests/helpers);
3. the difficulty classifier's time to rate the prompt (hashed n-gram features);
4. with ``--model``: what asking the real local model for log-probabilities costs
   (the router needs them to judge), generation with ``logprobs=0`` vs none.

    python benchmarks/route.py [--n 200] [--model PATH]

Target (issue #8): router overhead p95 ≤ 20 ms.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests")]
from _common import machine, save

CONTEXT = ("Customer record: Dr. Jane Smith, jane.smith@corp.com, +82 10-1234-5678, card "
           "4111 1111 1111 1111, IBAN DE89 3704 0044 0532 0130 00. Order 4417 shipped on "
           "2024-03-02 from warehouse WH-07; the courier confirmed delivery at 14:05. ") * 4


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return round(s[min(len(s) - 1, int(q * (len(s) - 1) + 0.5))], 3)


def stats(values: list[float]) -> dict:
    return {"n": len(values), "p50_ms": pct(values, 0.5), "p95_ms": pct(values, 0.95),
            "mean_ms": round(statistics.fmean(values), 3)}


def request(hard: bool):
    from slmkit.core.types import ChatMessage, GenerateRequest

    question = ("hard: " if hard else "") + "when was the order for jane.smith@corp.com shipped?"
    return GenerateRequest(messages=[ChatMessage("system", CONTEXT), ChatMessage("user", question)],
                           max_tokens=200)



def routed_vs_direct(n: int) -> dict:
    from helpers.fake_engine import FakeLocal
    from helpers.upstream import Upstream
    from slmkit.core.types import collect
    from slmkit.guard import Guard
    from slmkit.route import Ledger, RouteConfig, RoutedEngine
    from slmkit.runtime.remote import RemoteEngine

    server = Upstream()
    tmp = tempfile.TemporaryDirectory()
    try:
        local, remote = FakeLocal(n_ctx=100000), RemoteEngine(server.url, model="big-model")
        eng = RoutedEngine(local, remote, guard=Guard(), config=RouteConfig(judge_tokens=8),
                           ledger=Ledger(Path(tmp.name) / "ledger.sqlite"))
        out: dict[str, dict[str, list[float]]] = {
            r: {"direct": [], "routed": [], "internal": []} for r in ("local", "remote")}
        for i in range(n + 10):
            hard = i % 2 == 1
            route, direct = ("remote", remote) if hard else ("local", local)
            t0 = time.perf_counter()
            collect(direct.generate(request(hard)))
            t1 = time.perf_counter()
            routed = collect(eng.generate(request(hard)))
            d, r = (t1 - t0) * 1000, (time.perf_counter() - t1) * 1000
            assert routed.usage.decision.route == route
            if i >= 10:  # warm-up
                out[route]["direct"].append(d)
                out[route]["routed"].append(r)
                out[route]["internal"].append(routed.usage.decision.overhead_ms)
        return {route: {"internal": stats(v["internal"]), "direct": stats(v["direct"]),
                        "routed": stats(v["routed"]),
                        "added_p50_ms": round(pct(v["routed"], .5) - pct(v["direct"], .5), 3),
                        "added_p95_ms": round(pct(v["routed"], .95) - pct(v["direct"], .95), 3)}
                for route, v in out.items()}
    finally:
        server.stop()
        tmp.cleanup()


def logprob_cost(model: str, rounds: int) -> dict:
    from slmkit.core.types import GREEDY, ChatMessage, GenerateRequest, collect
    from slmkit.runtime import load_engine

    eng = load_engine(model, n_ctx=2048, n_threads=2)
    try:
        rows = {"none": [], "logprobs0": []}
        for i in range(rounds * 2 + 2):
            kind = "none" if i % 2 == 0 else "logprobs0"
            req = GenerateRequest(messages=[ChatMessage("user", "Tell me about rivers.")],
                                  max_tokens=32, sampling=GREEDY,
                                  logprobs=None if kind == "none" else 0)
            t0 = time.perf_counter()
            collect(eng.generate(req))
            ms = (time.perf_counter() - t0) * 1000
            if i >= 2:
                rows[kind].append(ms / 32)
        return {k: {"ms_per_token_median": round(statistics.median(v), 3)} for k, v in rows.items()}
    finally:
        eng.close()


def difficulty_cost(n: int) -> dict:
    """What the difficulty classifier adds when it rates a prompt before routing."""
    from slmkit.route.difficulty import train

    prompts = [f"easy question {i}" for i in range(20)] + [f"prove theorem {i}" for i in range(20)]
    model = train(prompts, [False] * 20 + [True] * 20, holdout=0)
    times = []
    for i in range(n + 10):
        t0 = time.perf_counter()
        model.p_hard(CONTEXT + str(i))
        if i >= 10:
            times.append((time.perf_counter() - t0) * 1000)
    return {"p50_ms": pct(times, 0.5), "p95_ms": pct(times, 0.95), "features": model.features}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=200)
    p.add_argument("--model", help="a GGUF file: also measure the cost of log-probabilities")
    p.add_argument("--rounds", type=int, default=5)
    args = p.parse_args()
    results = {"machine": machine(), "n": args.n, "context_chars": len(CONTEXT),
               "routes": routed_vs_direct(args.n), "difficulty": difficulty_cost(args.n)}
    if args.model:
        results["logprob_cost"] = logprob_cost(args.model, args.rounds)
    print(json.dumps(results, indent=2))
    save("route", results, markdown(results))


def markdown(r: dict) -> str:
    lines = ["# Router overhead", "", f"{r['n']} requests per route, {r['context_chars']}-char "
             "context with personal data (masked on escalation)", "",
             "| route | router's own p50 / p95 (ms) | direct p50 / p95 | routed p50 / p95 |",
             "|---|---|---|---|"]
    for route, v in r["routes"].items():
        lines.append(f"| {route} | {v['internal']['p50_ms']} / {v['internal']['p95_ms']} | "
                     f"{v['direct']['p50_ms']} / {v['direct']['p95_ms']} | "
                     f"{v['routed']['p50_ms']} / {v['routed']['p95_ms']} |")
    if "difficulty" in r:
        d = r["difficulty"]
        lines += ["", f"difficulty classifier ({d['features']}) on the same context: "
                      f"p50 {d['p50_ms']} ms, p95 {d['p95_ms']} ms per prompt"]
    if "logprob_cost" in r:
        lc = r["logprob_cost"]
        lines += ["", f"local decode ms/token: {lc['none']['ms_per_token_median']} without "
                      f"log-probabilities, {lc['logprobs0']['ms_per_token_median']} with"]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
