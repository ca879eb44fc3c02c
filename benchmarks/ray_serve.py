"""`slm serve --ray`: aggregate tokens/s and TTFT for 1 vs 2 model replicas, and the cost of
Ray's proxy and handles against plain `slm serve` with the same single engine.

Three servers, one after another (never two Ray heads at once), same model, threads per
engine, --parallel and context: plain `slm serve`, `--ray --replicas 1`, `--ray --replicas
2`. At 8 and 32 concurrent clients (streaming chat, the prompt mix and client of
benchmarks/serve.py) each reports tokens/s and TTFT p50/p95. Ratios: Ray 1 replica / plain
(the proxy overhead: target >= 0.90 throughput, <= +20 ms p50 TTFT) and 2 / 1 replicas. On
a machine with fewer free cores than replicas × threads the replicas share cores: the
2-replica gain is bounded by that, not by Ray.

    python benchmarks/ray_serve.py --model smollm2-135m-instruct
    python benchmarks/ray_serve.py --clients 8 --requests 16      # quicker

Needs the `ray` extra (pip install -e '.[ray]').
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import serve as http_bench  # noqa: E402 - benchmarks/serve.py: server process and client
from _common import load_note, machine, save  # noqa: E402

CONFIGS = {"plain": [], "ray-1": ["--ray", "--replicas", "1"],
           "ray-2": ["--ray", "--replicas", "2"]}


def start(label: str, model: str, args) -> http_bench.Server:
    port = http_bench.free_port()
    cmd = [sys.executable, "-m", "slmkit.cli.main", "serve", model, "--host", "127.0.0.1",
           "--port", str(port), "--threads", str(args.threads), "--ctx", str(args.ctx),
           "--parallel", str(args.parallel), "--queue", "256", "--log-level", "warning",
           "--no-pull", *CONFIGS[label]]
    return http_bench.Server(label, cmd, port, "/ready")


def measure(label: str, model: str, args) -> list[dict]:
    server = start(label, model, args)
    rows = []
    try:
        server.wait_ready(timeout=300)
        for _ in range(2):  # warm-up: both replicas of ray-2 see a request
            asyncio.run(http_bench.one_request_once(server.url, model, args.max_tokens))
        for c in args.clients:
            per = max(1, args.requests // c)
            row = asyncio.run(http_bench.run_level(server.url, model, c, per, args.max_tokens,
                                                   args.time_cap))
            print(f"  {label:6s} {c:3d} clients: {row['tokens_per_s']:8.1f} tok/s  TTFT p50 "
                  f"{row['ttft_p50_s']} s p95 {row['ttft_p95_s']} s  errors {row['errors']}",
                  flush=True)
            rows.append(row)
    finally:
        server.proc.terminate()  # Ray needs longer than Server.stop waits to drain and stop
        server.proc.wait(timeout=120)
        server.log.close()
    return rows


def ratios(results: dict[str, list[dict]]) -> dict:
    out = {}
    for plain, one, two in zip(results["plain"], results["ray-1"], results["ray-2"],
                               strict=True):
        c = plain["clients"]
        if plain["tokens_per_s"]:
            out[f"ray1_vs_plain_tokens_per_s@{c}"] = round(one["tokens_per_s"]
                                                          / plain["tokens_per_s"], 3)
        if plain["ttft_p50_s"] is not None and one["ttft_p50_s"] is not None:
            out[f"ray1_minus_plain_ttft_p50_ms@{c}"] = round(
                (one["ttft_p50_s"] - plain["ttft_p50_s"]) * 1000, 1)
        if one["tokens_per_s"]:
            out[f"ray2_vs_ray1_tokens_per_s@{c}"] = round(two["tokens_per_s"]
                                                         / one["tokens_per_s"], 3)
    return out


def markdown(payload: dict) -> str:
    cfg = payload["config"]
    lines = [f"# Ray Serve benchmark — {payload['date']}", "",
             (f"Model `{cfg['model']}`, {cfg['threads']} thread(s) per engine, ctx "
              f"{cfg['ctx']}, --parallel {cfg['parallel']}, {cfg['max_tokens']} max tokens, "
              f"{cfg['requests_per_level']} streaming chat requests per level. Machine: "
              f"{payload['machine']['cpu']} ({payload['machine']['physical_cores']} cores), "
              f"{payload['note']}."), "",
             "| server | clients | requests | errors | tokens/s | TTFT p50 | TTFT p95 |",
             "|---|---|---|---|---|---|---|"]
    for label, rows in payload["results"].items():
        for r in rows:
            lines.append(f"| {label} | {r['clients']} | {r['requests']} | {r['errors']} | "
                         f"{r['tokens_per_s']} | {r['ttft_p50_s']} | {r['ttft_p95_s']} |")
    lines += ["", "| ratio | value |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in payload["ratios"].items()]
    return "\n".join(lines) + "\n"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="smollm2-135m-instruct")
    p.add_argument("--threads", type=int, default=1, help="llama.cpp threads per engine")
    p.add_argument("--ctx", type=int, default=1024)
    p.add_argument("--parallel", type=int, default=8)
    p.add_argument("--clients", default="8,32")
    p.add_argument("--requests", type=int, default=32, help="requests per level")
    p.add_argument("--max-tokens", type=int, default=32)
    p.add_argument("--time-cap", type=float, default=120.0)
    p.add_argument("--note", default=None, help="default: the load at start")
    args = p.parse_args()
    args.clients = [int(c) for c in args.clients.split(",")]
    args.note = args.note or load_note()
    results = {label: measure(label, args.model, args) for label in CONFIGS}
    payload = {"benchmark": "ray_serve", "date": time.strftime("%Y-%m-%d %H:%M"),
               "machine": machine(), "note": args.note,
               "config": {"model": args.model, "threads": args.threads, "ctx": args.ctx,
                          "parallel": args.parallel, "max_tokens": args.max_tokens,
                          "clients": args.clients, "requests_per_level": args.requests},
               "results": results, "ratios": ratios(results)}
    out = save("ray_serve", payload, markdown(payload))
    print(markdown(payload))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
