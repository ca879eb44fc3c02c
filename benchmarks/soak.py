"""Soak test: minutes of mixed traffic against one `slm serve`, at and above its capacity.

Clients (asyncio + httpx over loopback) loop until the time is up, each request drawn from a
fixed mix: chat (plain and streamed, OpenAI and Ollama shapes), JSON-schema output,
embeddings, RAG retrieval and a RAG-grounded chat, guard masking — and the abuse a server
meets in practice: clients that disconnect mid-stream, clients that give up (a short
timeout on a long answer), and garbage (malformed JSON, wrong types, unknown models,
absurd numbers). The server runs with few slots and a short queue, so it is pushed past
capacity and must answer 429, not fall over.

Reported: requests per kind and status, 429s, 5xx (must be 0: the script exits 1
otherwise), p50/p99 latency of successful requests per time window, the server's RSS over
time (start = after a warm-up burst of the same traffic, end = after the soak) against a stated bound, and whether
the server still answers a chat at the end. A chart of latency and RSS over time is saved
next to the JSON result.

    python benchmarks/soak.py                       # 3 minutes, 12 clients
    python benchmarks/soak.py --minutes 10 --clients 24
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import RESULTS, machine, save
from serve import Server, free_port

RSS_BOUND = (1.05, 32)  # end RSS ≤ start × 1.05 + 32 MiB (steady state: no growth)
SCHEMA = {"type": "object", "properties": {"city": {"type": "string"},
                                           "population": {"type": "integer"}},
          "required": ["city", "population"]}
DOCS = {
    "printers.md": "# Printers\nThe office printer TN-3480 jams when the tray holds more than "
                   "250 sheets. Reset it by holding the power button for ten seconds.",
    "vpn.md": "# VPN\nThe VPN gateway vpn-7 rotates its certificate every 90 days; clients "
              "must re-import the profile from the intranet page after a rotation.",
    "db.md": "# Database\nThe orders database fails over to the replica db-2 when the primary "
             "misses three heartbeats; failback is manual.",
}
PII = "Contact Jane Roe at jane.roe@example.com or +1 415 555 0100 about invoice 7731."
QUESTIONS = ["How do I reset the printer?", "When does the VPN certificate rotate?",
             "What happens when the database primary misses heartbeats?"]


# ---- the request mix -----------------------------------------------------------------
def chat_body(model: str, text: str, max_tokens: int = 24, **extra) -> dict:
    return {"model": model, "max_tokens": max_tokens,
            "messages": [{"role": "user", "content": text}], **extra}


async def _post(client, path: str, **kw) -> int:
    r = await client.post(path, **kw)
    return r.status_code


async def _stream(client, path: str, body: dict, *, stop_after: int | None = None) -> int | str:
    async with client.stream("POST", path, json=body) as r:
        if r.status_code != 200:
            await r.aread()
            return r.status_code
        seen = 0
        async for _ in r.aiter_lines():
            seen += 1
            if stop_after is not None and seen >= stop_after:
                return "disconnect"  # leaving the block closes the connection mid-stream
        return 200


def request_kinds(model: str) -> dict:
    """kind -> (weight, coroutine factory taking the client)."""
    q = lambda: random.choice(QUESTIONS)  # noqa: E731
    return {
        "chat": (4, lambda c: _post(c, "/v1/chat/completions",
                                    json=chat_body(model, "Name one color."))),
        "chat_stream": (4, lambda c: _stream(c, "/v1/chat/completions",
                                             chat_body(model, "Count to five.", stream=True))),
        "ollama_stream": (2, lambda c: _stream(c, "/api/chat", {
            "model": model, "messages": [{"role": "user", "content": "Say hello."}],
            "options": {"num_predict": 16}})),
        "json_schema": (2, lambda c: _post(c, "/v1/chat/completions", json=chat_body(
            model, "Give a city and its population as JSON.", 48,
            response_format={"type": "json_schema",
                             "json_schema": {"name": "city", "schema": SCHEMA}}))),
        "embeddings": (2, lambda c: _post(c, "/v1/embeddings", json={
            "model": model, "input": ["soak test sentence", q()]})),
        "rag_query": (2, lambda c: _post(c, "/v1/rag/soak/query", json={"query": q(), "k": 3})),
        "rag_chat": (1, lambda c: _post(c, "/v1/chat/completions",
                                        json=chat_body("rag:soak", q(), 32))),
        "guard": (2, lambda c: _post(c, "/v1/guard/mask", json={"text": PII})),
        "disconnect": (3, lambda c: _stream(c, "/v1/chat/completions", chat_body(
            model, "Write a long story about the sea.", 256, stream=True), stop_after=2)),
        "give_up": (2, _give_up(model)),
        "garbage": (3, _garbage(model)),
    }


def _give_up(model: str):
    async def run(client) -> int | str:
        try:
            r = await client.post("/v1/chat/completions", timeout=0.3,
                                  json=chat_body(model, "Write a long essay on rivers.", 256))
            return r.status_code
        except Exception:  # noqa: BLE001 - the client giving up is the point
            return "timeout"
    return run


GARBAGE = [
    (b"{not json", "application/json"),
    (b'{"model": 5, "messages": "hi"}', "application/json"),
    (b'{"model": "no-such-model", "messages": [{"role": "user", "content": "x"}]}',
     "application/json"),
    (b'{"model": "MODEL", "messages": [{"role": "user", "content": "x"}], '
     b'"max_tokens": 99999999999999}', "application/json"),
    (b'{"model": "MODEL", "messages": [{"role": "wizard", "content": "x"}]}',
     "application/json"),
    (b"\x00\xff\xfe garbage", "application/octet-stream"),
]


def _garbage(model: str):
    async def run(client) -> int:
        body, ctype = random.choice(GARBAGE)
        r = await client.post("/v1/chat/completions", content=body.replace(
                                  b"MODEL", model.encode()),
                              headers={"Content-Type": ctype})
        return r.status_code
    return run


# ---- the run ---------------------------------------------------------------------------
async def traffic(url: str, model: str, clients: int, seconds: float) -> list[dict]:
    import httpx

    kinds = request_kinds(model)
    names, weights = list(kinds), [w for w, _ in kinds.values()]
    records: list[dict] = []
    t_zero = time.perf_counter()
    deadline = t_zero + seconds

    async def worker(k: int) -> None:
        rng = random.Random(k)
        async with httpx.AsyncClient(base_url=url, timeout=120) as client:
            while time.perf_counter() < deadline:
                kind = rng.choices(names, weights)[0]
                t0 = time.perf_counter()
                try:
                    status = await kinds[kind][1](client)
                except Exception as err:  # noqa: BLE001 - a transport error is a result too
                    status = f"error:{type(err).__name__}"
                records.append({"t": t0 - t_zero, "kind": kind, "status": status,
                                "latency": time.perf_counter() - t0})

    await asyncio.gather(*(worker(k) for k in range(clients)))
    return records


def rss_mib(pid: int) -> float:
    import psutil

    return psutil.Process(pid).memory_info().rss / 2**20


async def sample_rss(pid: int, every: float, out: list, stop: asyncio.Event) -> None:
    t_zero = time.perf_counter()
    while not stop.is_set():
        out.append((time.perf_counter() - t_zero, rss_mib(pid)))
        try:
            await asyncio.wait_for(stop.wait(), every)
        except asyncio.TimeoutError:
            pass


async def soak(url: str, pid: int, args) -> tuple[list[dict], list, float]:
    """A warm-up burst of the same traffic (every kind's first-use allocations: grammar
    compiler, embedder, per-thread arenas), then the measured soak. Returns its records,
    the RSS samples and the RSS right after the warm-up (the baseline)."""
    await traffic(url, args.model, args.clients, args.warmup)
    start = rss_mib(pid)
    rss: list = []
    stop = asyncio.Event()
    sampler = asyncio.ensure_future(sample_rss(pid, 5.0, rss, stop))
    records = await traffic(url, args.model, args.clients, args.minutes * 60)
    stop.set()
    await sampler
    return records, rss, start


def prepare_rag(env: dict) -> None:
    folder = Path(tempfile.mkdtemp(prefix="soak-docs-"))
    for name, text in DOCS.items():
        (folder / name).write_text(text + "\n")
    subprocess.run([sys.executable, "-m", "slmkit.cli.main", "rag", "ingest", "soak",
                    str(folder)], check=True, env=env, capture_output=True)


def warm_up(url: str, model: str) -> None:
    import httpx

    for body in (chat_body(model, "Hi."), chat_body("rag:soak", QUESTIONS[0])):
        httpx.post(url + "/v1/chat/completions", json=body, timeout=300).raise_for_status()


def still_serving(url: str, model: str) -> bool:
    import httpx

    r = httpx.post(url + "/v1/chat/completions", json=chat_body(model, "Say yes."), timeout=300)
    return r.status_code == 200 and bool(r.json()["choices"][0]["message"]["content"])


# ---- the report ------------------------------------------------------------------------
def summarize(records: list[dict], rss: list, window: float) -> dict:
    by_kind: dict[str, dict[str, int]] = {}
    for r in records:
        counts = by_kind.setdefault(r["kind"], {})
        counts[str(r["status"])] = counts.get(str(r["status"]), 0) + 1
    statuses = [str(r["status"]) for r in records]
    windows = []
    for start in range(0, int(max((r["t"] for r in records), default=0)) + 1, int(window)):
        ok = sorted(r["latency"] for r in records
                    if start <= r["t"] < start + window and r["status"] == 200)
        if ok:
            windows.append({"start_s": start, "served": len(ok),
                            "p50_s": round(statistics.median(ok), 3),
                            "p99_s": round(ok[min(len(ok) - 1, int(0.99 * len(ok)))], 3)})
    return {"requests": len(records), "served_200": statuses.count("200"),
            "latency_by_kind": _latency_by_kind(records),
            "rejected_429": statuses.count("429"),
            "client_4xx": sum(s.startswith("4") and s != "429" for s in statuses),
            "server_5xx": sum(s.startswith("5") for s in statuses),
            "disconnects": statuses.count("disconnect"), "timeouts": statuses.count("timeout"),
            "transport_errors": sum(s.startswith("error:") for s in statuses),
            "by_kind": by_kind, "windows": windows,
            "rss_mib": [(round(t, 1), round(m, 1)) for t, m in rss]}


def _latency_by_kind(records: list[dict]) -> dict:
    """p50/p99 seconds of each kind's successful requests."""
    out = {}
    for kind in sorted({r["kind"] for r in records}):
        ok = sorted(r["latency"] for r in records if r["kind"] == kind and r["status"] == 200)
        if ok:
            out[kind] = {"n": len(ok), "p50_s": round(statistics.median(ok), 3),
                         "p99_s": round(ok[min(len(ok) - 1, int(0.99 * len(ok)))], 3)}
    return out


def markdown(result: dict, args) -> str:
    s = result["summary"]
    lines = [f"# Soak: {args.minutes} min, {args.clients} clients, parallel {args.parallel}, "
             f"queue {args.queue}", "", f"Machine: {result['machine']['cpu']}, "
             f"{result['machine']['logical_cores']} cores. Busy: {args.busy_note}", "",
             "| requests | 200 | 429 | other 4xx | 5xx | disconnects | gave up | transport errors |",
             "|---|---|---|---|---|---|---|---|",
             f"| {s['requests']} | {s['served_200']} | {s['rejected_429']} | {s['client_4xx']} "
             f"| {s['server_5xx']} | {s['disconnects']} | {s['timeouts']} | "
             f"{s['transport_errors']} |", "",
             "| window start (s) | served | p50 (s) | p99 (s) |", "|---|---|---|---|"]
    lines += [f"| {w['start_s']} | {w['served']} | {w['p50_s']} | {w['p99_s']} |"
              for w in s["windows"]]
    lines += ["", "| kind | served | p50 (s) | p99 (s) |", "|---|---|---|---|"]
    lines += [f"| {k} | {v['n']} | {v['p50_s']} | {v['p99_s']} |"
              for k, v in s["latency_by_kind"].items()]
    lines += ["", f"RSS start {result['rss_start_mib']:.0f} MiB, end {result['rss_end_mib']:.0f} "
              f"MiB, bound {result['rss_bound_mib']:.0f} MiB: "
              f"{'within' if result['rss_ok'] else 'EXCEEDED'}. Still serving at the end: "
              f"{result['still_serving']}.", ""]
    return "\n".join(lines)


def chart(result: dict, path: Path) -> None:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    w, rss = result["summary"]["windows"], result["summary"]["rss_mib"]
    fig, (a, b) = plt.subplots(2, 1, figsize=(8, 6), sharex=True)
    a.plot([x["start_s"] for x in w], [x["p50_s"] for x in w], label="p50")
    a.plot([x["start_s"] for x in w], [x["p99_s"] for x in w], label="p99")
    a.set_ylabel("latency of 200s (s)")
    a.legend()
    b.plot([t for t, _ in rss], [m for _, m in rss], color="tab:red")
    b.set_ylabel("server RSS (MiB)")
    b.set_xlabel("seconds into the soak")
    fig.tight_layout()
    fig.savefig(path)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="smollm2-135m-instruct")
    ap.add_argument("--minutes", type=float, default=3.0)
    ap.add_argument("--clients", type=int, default=12)
    ap.add_argument("--parallel", type=int, default=2)
    ap.add_argument("--queue", type=int, default=4)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--window", type=float, default=30.0, help="seconds per latency window")
    ap.add_argument("--warmup", type=float, default=30.0,
                    help="seconds of the same traffic before the baseline RSS is taken")
    ap.add_argument("--busy-note", default="other work may share the machine",
                    help="say in the result whether the machine was busy")
    args = ap.parse_args()

    import os

    env = os.environ.copy()
    prepare_rag(env)
    port = free_port()
    server = Server("slmkit", [sys.executable, "-m", "slmkit.cli.main", "serve", args.model,
                               "--port", str(port), "--threads", str(args.threads),
                               "--parallel", str(args.parallel), "--queue", str(args.queue),
                               "--ctx", "2048", "--rag", "soak", "--log-level", "warning"],
                    port, "/ready", env=env)
    try:
        server.wait_ready()
        warm_up(server.url, args.model)
        records, rss, start = asyncio.run(soak(server.url, server.proc.pid, args))
        alive = still_serving(server.url, args.model)
        end = rss_mib(server.proc.pid)
    finally:
        server.stop()
        subprocess.run([sys.executable, "-m", "slmkit.cli.main", "rag", "drop", "soak"],
                       env=env, capture_output=True)
    bound = start * RSS_BOUND[0] + RSS_BOUND[1]
    result = {"machine": machine(), "args": vars(args), "summary": summarize(records, rss,
                                                                             args.window),
              "rss_start_mib": start, "rss_end_mib": end, "rss_bound_mib": bound,
              "rss_ok": end <= bound, "still_serving": alive}
    text = markdown(result, args)
    path = save("soak", result, text)
    chart(result, RESULTS / path.name.replace(".json", ".png"))
    print(text)
    s = result["summary"]
    return 0 if s["server_5xx"] == 0 and alive and result["rss_ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
