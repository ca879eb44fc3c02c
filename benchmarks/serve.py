"""Serving throughput and latency: `slm serve` against `llama_cpp.server`, same GGUF, threads
and context, measured in one run.

For 1, 4, 8 and 16 concurrent clients (asyncio + httpx, loopback only), each client sends a
fixed number of streaming chat requests from a fixed prompt mix, one after another. Both
servers stay up; each level runs on one and then the other, back to back. Per
server and level: aggregate completion tokens/s (tokens over wall time), time to first
token and request latency p50/p95, errors. Ratios: ours / llama_cpp.server at each level,
and our N-client rate / our 1-client rate (the batching gain).

    python benchmarks/serve.py                      # default model, 2 threads, ctx 2048
    python benchmarks/serve.py --quick              # fewer requests per client
    python benchmarks/serve.py --clients 1,8 --max-tokens 96

Needs the `serve` extra and llama-cpp-python's server extra (`pip install -e '.[bench]'`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine, save

SYSTEM = "You are a helpful assistant. Answer in full sentences."
PROMPTS = [
    "Write a short story about a lighthouse keeper.",
    "Explain how a bicycle works.",
    "Describe the water cycle to a child.",
    "What are the benefits of regular exercise?",
    "Write a poem about the sea at night.",
    "Give me a recipe for a simple tomato soup.",
    "Tell me about the history of the printing press.",
    "Why do cats purr? Explain in detail.",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, name: str, cmd: list[str], port: int, ready_path: str, env=None):
        self.name, self.port, self.ready_path = name, port, ready_path
        self.url = f"http://127.0.0.1:{port}"
        self.log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - lives as long as the server
            "w+", prefix=f"bench-{name}-", suffix=".log", delete=False)
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT,
                                     env=env or os.environ.copy())

    def wait_ready(self, timeout: float = 180) -> None:
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited: {Path(self.log.name).read_text()[-3000:]}")
            try:
                if httpx.get(self.url + self.ready_path, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"{self.name} not ready after {timeout} s")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        os.unlink(self.log.name)


def start_ours(model: str, args) -> Server:
    port = free_port()
    cmd = [sys.executable, "-m", "slmkit.cli.main", "serve", model, "--host", "127.0.0.1",
           "--port", str(port), "--threads", str(args.threads), "--ctx", str(args.ctx),
           "--parallel", str(args.parallel), "--queue", "256", "--log-level", "warning"]
    return Server("slmkit", cmd, port, "/ready")


def start_anchor(path: str, model: str, args) -> Server:
    port = free_port()
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", path, "--model_alias", model,
           "--host", "127.0.0.1", "--port", str(port), "--n_threads", str(args.threads),
           "--n_ctx", str(args.ctx), "--interrupt_requests", "False"]
    return Server("llama_cpp.server", cmd, port, "/v1/models")


async def one_request(client, model: str, prompt: str, max_tokens: int) -> dict:
    body = {"model": model, "stream": True, "max_tokens": max_tokens, "temperature": 0,
            "repeat_penalty": 1.0,  # llama_cpp.server defaults to 1.1; same greedy text on both
            "messages": [{"role": "system", "content": SYSTEM},
                         {"role": "user", "content": prompt}]}
    t0 = time.perf_counter()
    ttft, tokens = None, 0
    try:
        async with client.stream("POST", "/v1/chat/completions", json=body) as r:
            if r.status_code != 200:
                await r.aread()
                return {"error": f"HTTP {r.status_code}: {r.text[:200]}"}
            async for line in r.aiter_lines():
                if not line.startswith("data: ") or line == "data: [DONE]":
                    continue
                event = json.loads(line[6:])
                for choice in event.get("choices") or []:
                    if (choice.get("delta") or {}).get("content"):
                        tokens += 1  # one event per token on both servers
                        if ttft is None:
                            ttft = time.perf_counter() - t0
    except Exception as err:  # noqa: BLE001 - counted as an error
        return {"error": f"{type(err).__name__}: {err}"}
    return {"ttft": ttft, "latency": time.perf_counter() - t0, "tokens": tokens}


async def run_level(url: str, model: str, clients: int, per_client: int, max_tokens: int,
                    time_cap: float) -> dict:
    import httpx

    limits = httpx.Limits(max_connections=clients + 4)
    async with httpx.AsyncClient(base_url=url, timeout=600, limits=limits) as client:
        deadline = time.perf_counter() + time_cap
        results: list[dict] = []

        async def worker(k: int) -> None:
            for i in range(per_client):
                if time.perf_counter() > deadline:
                    return
                prompt = PROMPTS[(k * per_client + i) % len(PROMPTS)]
                results.append(await one_request(client, model, prompt, max_tokens))

        t0 = time.perf_counter()
        await asyncio.gather(*(worker(k) for k in range(clients)))
        wall = time.perf_counter() - t0
    ok = [r for r in results if "error" not in r]
    tokens = sum(r["tokens"] for r in ok)
    ttfts = [r["ttft"] for r in ok if r["ttft"] is not None]
    lats = [r["latency"] for r in ok]
    return {"clients": clients, "requests": len(results), "errors": len(results) - len(ok),
            "error_samples": [r["error"] for r in results if "error" in r][:3],
            "completion_tokens": tokens, "wall_s": round(wall, 3),
            "tokens_per_s": round(tokens / wall, 2) if wall else 0.0,
            "ttft_p50_s": pct(ttfts, 50), "ttft_p95_s": pct(ttfts, 95),
            "latency_p50_s": pct(lats, 50), "latency_p95_s": pct(lats, 95)}


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    k = max(0, min(len(s) - 1, round(q / 100 * len(s) + 0.5) - 1))  # nearest rank
    return round(s[k], 4)


def measure(servers: dict[str, Server], model: str, args) -> dict[str, list[dict]]:
    """Both servers run side by side (an idle one costs no CPU); each level is measured on
    one then the other, back to back, so drifting machine load hits both alike."""
    for server in servers.values():
        server.wait_ready()
        asyncio.run(one_request_once(server.url, model, args.max_tokens))  # warm-up
    results: dict[str, list[dict]] = {label: [] for label in servers}
    for c in args.clients:
        per = max(1, args.requests // c) if args.requests else args.per_client
        for label, server in servers.items():
            row = asyncio.run(run_level(server.url, model, c, per, args.max_tokens,
                                        args.time_cap))
            print(f"  {label:17s} {c:3d} clients: {row['tokens_per_s']:8.1f} tok/s  "
                  f"TTFT p50 {row['ttft_p50_s']} s  latency p50 {row['latency_p50_s']} s  "
                  f"errors {row['errors']}", flush=True)
            results[label].append(row)
    return results


async def one_request_once(url: str, model: str, max_tokens: int) -> None:
    import httpx

    async with httpx.AsyncClient(base_url=url, timeout=300) as client:
        await one_request(client, model, PROMPTS[0], max_tokens)


def resolve_model(name: str | None) -> tuple[str, str]:
    from slmkit.models.store import Store

    ref = Store().resolve(name)
    return ref.name, ref.path


def ratios(ours: list[dict], anchor: list[dict]) -> dict:
    out = {}
    by_c = {r["clients"]: r for r in anchor}
    base = ours[0]["tokens_per_s"] if ours and ours[0]["clients"] == 1 else None
    for r in ours:
        a = by_c.get(r["clients"])
        if a and a["tokens_per_s"]:
            out[f"tokens_per_s_vs_llama_cpp_server@{r['clients']}"] = round(
                r["tokens_per_s"] / a["tokens_per_s"], 3)
        if base:
            out[f"tokens_per_s_vs_own_1_client@{r['clients']}"] = round(
                r["tokens_per_s"] / base, 3)
    return out


def markdown(payload: dict) -> str:
    cfg = payload["config"]
    lines = [f"# Serving benchmark — {payload['date']}", "",
             (f"Model `{cfg['model']}`, {cfg['threads']} threads, ctx {cfg['ctx']}, "
              f"{cfg['max_tokens']} max tokens, streaming chat, greedy; slmkit with "
              f"--parallel {cfg['parallel']}. Machine: {payload['machine']['cpu']} "
              f"({payload['machine']['physical_cores']} cores)."), "",
             ("| server | clients | requests | errors | tokens/s | TTFT p50 | TTFT p95 | "
              "latency p50 | latency p95 |"), "|---|---|---|---|---|---|---|---|---|"]
    for name in ("slmkit", "llama_cpp.server"):
        for r in payload["results"].get(name, []):
            lines.append(f"| {name} | {r['clients']} | {r['requests']} | {r['errors']} | "
                         f"{r['tokens_per_s']} | {r['ttft_p50_s']} | {r['ttft_p95_s']} | "
                         f"{r['latency_p50_s']} | {r['latency_p95_s']} |")
    lines += ["", "| ratio | value |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in payload["ratios"].items()]
    return "\n".join(lines) + "\n"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default=None, help="model name (default: the catalog default)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--ctx", type=int, default=2048)
    p.add_argument("--parallel", type=int, default=8)
    p.add_argument("--clients", default="1,4,8,16")
    p.add_argument("--requests", type=int, default=32,
                   help="requests per level, split over the clients (at least 1 each)")
    p.add_argument("--per-client", type=int, default=4, help="used when --requests is 0")
    p.add_argument("--max-tokens", type=int, default=64)
    p.add_argument("--time-cap", type=float, default=180.0,
                   help="stop starting requests after this long per level")
    p.add_argument("--quick", action="store_true", help="16 requests per level")
    p.add_argument("--only", choices=["slmkit", "llama_cpp.server"], default=None)
    args = p.parse_args()
    args.clients = [int(c) for c in args.clients.split(",")]
    if args.quick:
        args.requests = 16
    name, path = resolve_model(args.model)
    starters = {"llama_cpp.server": lambda: start_anchor(path, name, args),
                "slmkit": lambda: start_ours(name, args)}
    servers = {label: start() for label, start in starters.items()
               if not args.only or args.only == label}
    try:
        results = measure(servers, name, args)
    finally:
        for server in servers.values():
            server.stop()
    payload = {"benchmark": "serve", "date": time.strftime("%Y-%m-%d %H:%M"),
               "machine": machine(),
               "config": {"model": name, "path": path, "threads": args.threads,
                          "ctx": args.ctx, "parallel": args.parallel,
                          "max_tokens": args.max_tokens, "clients": args.clients,
                          "requests_per_level": args.requests},
               "results": results,
               "ratios": ratios(results.get("slmkit", []), results.get("llama_cpp.server", []))}
    out = save("serve", payload, markdown(payload))
    print(markdown(payload))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
