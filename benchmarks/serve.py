"""Serving throughput and latency: `slm serve` against llama.cpp's own `llama-server` and
llama-cpp-python's `llama_cpp.server`, same GGUF, threads, slots and context, in one run.

For 1, 4, 8, 16 and 32 concurrent clients (asyncio + httpx, loopback only), each client sends
streaming chat requests from a fixed prompt mix, one after another. All servers stay up (an
idle one costs no CPU); each level runs on one server after the other, back to back, the order
rotating from level to level. Per server and level: aggregate completion tokens/s (tokens
over wall time), time to first token and request latency p50/p95, errors; per server its
peak RSS (VmHWM of the process and its children). Ratios: slmkit / each anchor at each level,
and slmkit's N-client rate / its 1-client rate (the batching gain).

Same settings on every side: ``--threads`` (llama-server ``-t``), ``--parallel`` slots
(llama-server ``-np``; llama_cpp.server has one) and ``--ctx`` tokens per slot (llama-server
``-c ctx×parallel``, a unified KV cache as slmkit's, flash attention as slmkit's setting:
off by default).

    python benchmarks/serve.py                      # default model, 2 threads, ctx 2048
    python benchmarks/serve.py --quick --threads 1  # 16 requests per level
    python benchmarks/serve.py --clients 1,8 --servers slmkit,llama-server

``llama-server`` is built from the vendored llama.cpp sources on first use
(``benchmarks/_cpp.py``); ``llama_cpp.server`` needs the ``bench`` extra.
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
from _common import describe_machine, fa_flag, flash_attn, machine, save

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

    def peak_rss_mb(self) -> float | None:
        """Peak resident memory (VmHWM) of the server process plus its children, in MiB."""
        import psutil

        try:
            procs = [psutil.Process(self.proc.pid)]
            procs += procs[0].children(recursive=True)
        except psutil.Error:
            return None
        return round(sum(_vm_hwm_kb(p.pid) for p in procs) / 1024, 1)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        os.unlink(self.log.name)


def _vm_hwm_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def start_ours(model: str, args) -> Server:
    port = free_port()
    cmd = [sys.executable, "-m", "slmkit.cli.main", "serve", model, "--host", "127.0.0.1",
           "--port", str(port), "--threads", str(args.threads), "--ctx", str(args.ctx),
           "--parallel", str(args.parallel), "--queue", "256", "--log-level", "warning"]
    return Server("slmkit", cmd, port, "/ready")


def start_llama_server(path: str, model: str, args) -> Server:
    from _cpp import binaries

    port = free_port()
    cmd = [str(binaries()["llama-server"]), "-m", path, "--alias", model,
           "--host", "127.0.0.1", "--port", str(port), "-t", str(args.threads),
           "-np", str(args.parallel), "-c", str(args.ctx * args.parallel), "-kvu",
           "-fa", fa_flag(), "-b", "512", "-ub", "512", "--log-disable"]
    return Server("llama-server", cmd, port, "/health")


def start_llama_cpp_server(path: str, model: str, args) -> Server:
    port = free_port()
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", path, "--model_alias", model,
           "--host", "127.0.0.1", "--port", str(port), "--n_threads", str(args.threads),
           "--n_ctx", str(args.ctx), "--interrupt_requests", "False",
           "--flash_attn", str(flash_attn())]
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

    # a new connection per request on every server: llama-server (cpp-httplib) closes a
    # kept-alive connection after a few requests, which a pooled client sees as an error
    limits = httpx.Limits(max_connections=clients + 4, max_keepalive_connections=0)
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
    """Each level is measured on one server after the other, back to back, the order rotating
    from level to level, so drifting machine load hits all alike."""
    for server in servers.values():
        server.wait_ready()
        asyncio.run(one_request_once(server.url, model, args.max_tokens))  # warm-up
    results: dict[str, list[dict]] = {label: [] for label in servers}
    labels = list(servers)
    for i, c in enumerate(args.clients):
        per = max(1, args.requests // c) if args.requests else args.per_client
        for label in labels[i % len(labels):] + labels[:i % len(labels)]:
            row = asyncio.run(run_level(servers[label].url, model, c, per, args.max_tokens,
                                        args.time_cap))
            print(f"  {label:17s} {c:3d} clients: {row['tokens_per_s']:8.1f} tok/s  "
                  f"TTFT p50 {row['ttft_p50_s']} p95 {row['ttft_p95_s']} s  "
                  f"errors {row['errors']} {'; '.join(row['error_samples'])}", flush=True)
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


ANCHORS = ("llama-server", "llama_cpp.server")


def ratios(results: dict[str, list[dict]], peak_rss: dict[str, float | None]) -> dict:
    """slmkit / each anchor per level (tokens/s, TTFT p95), peak RSS, and the batching gain."""
    ours = results.get("slmkit", [])
    out: dict = {}
    for anchor in ANCHORS:
        by_c = {r["clients"]: r for r in results.get(anchor, [])}
        for r in ours:
            a = by_c.get(r["clients"])
            if a and a["tokens_per_s"]:
                out[f"tokens_per_s_vs_{anchor}@{r['clients']}"] = round(
                    r["tokens_per_s"] / a["tokens_per_s"], 3)
            if a and a["ttft_p95_s"] and r["ttft_p95_s"] is not None:
                out[f"ttft_p95_vs_{anchor}@{r['clients']}"] = round(
                    r["ttft_p95_s"] / a["ttft_p95_s"], 3)
        if peak_rss.get("slmkit") and peak_rss.get(anchor):
            out[f"peak_rss_vs_{anchor}"] = round(peak_rss["slmkit"] / peak_rss[anchor], 3)
    base = ours[0]["tokens_per_s"] if ours and ours[0]["clients"] == 1 else None
    for r in ours if base else []:
        out[f"tokens_per_s_vs_own_1_client@{r['clients']}"] = round(r["tokens_per_s"] / base, 3)
    return out


def markdown(payload: dict) -> str:
    cfg, res = payload["config"], payload["results"]
    lines = [f"# Serving benchmark — {payload['date']}", "",
             (f"Model `{cfg['model']}`, {cfg['threads']} threads, {cfg['parallel']} slots "
              f"(llama_cpp.server: 1), ctx {cfg['ctx']} per slot, {cfg['max_tokens']} max "
              f"tokens, streaming chat, greedy. Machine: {describe_machine(payload['machine'])}."
              ), "",
             ("| server | clients | requests | errors | tokens/s | TTFT p50 | TTFT p95 | "
              "latency p50 | latency p95 |"), "|---|---|---|---|---|---|---|---|---|"]
    for name in ("slmkit", *ANCHORS):
        for r in res.get(name, []):
            lines.append(f"| {name} | {r['clients']} | {r['requests']} | {r['errors']} | "
                         f"{r['tokens_per_s']} | {r['ttft_p50_s']} | {r['ttft_p95_s']} | "
                         f"{r['latency_p50_s']} | {r['latency_p95_s']} |")
    lines += ["", "| server | peak RSS (MiB) |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in payload["peak_rss_mb"].items()]
    r = payload["ratios"]
    present = [a for a in ANCHORS if a in res]
    if present and "slmkit" in res:
        lines += ["", "slmkit ÷ anchor, same run (tokens/s higher is better; TTFT p95 and RSS "
                      "lower is better):", "",
                  "| clients | " + " | ".join(f"tok/s ÷ {a} | TTFT p95 ÷ {a}" for a in present)
                  + " |", "|---|" + "---|---|" * len(present)]
        for row in res["slmkit"]:
            c = row["clients"]
            cells = [f"{_fmt(r.get(f'tokens_per_s_vs_{a}@{c}'))} | "
                     f"{_fmt(r.get(f'ttft_p95_vs_{a}@{c}'))}" for a in present]
            lines.append(f"| {c} | " + " | ".join(cells) + " |")
        lines += [""] + [f"peak RSS ÷ {a}: {_fmt(r.get(f'peak_rss_vs_{a}'))}" for a in present]
    return "\n".join(lines) + "\n"


def _fmt(x: float | None) -> str:
    return "–" if x is None else f"{x:.2f}×"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default=None, help="model name (default: the catalog default)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--ctx", type=int, default=2048, help="context per slot")
    p.add_argument("--parallel", type=int, default=8, help="slots (llama-server -np)")
    p.add_argument("--clients", default="1,4,8,16,32")
    p.add_argument("--requests", type=int, default=32,
                   help="requests per level, split over the clients (at least 1 each)")
    p.add_argument("--per-client", type=int, default=4, help="used when --requests is 0")
    p.add_argument("--max-tokens", type=int, default=64)
    p.add_argument("--time-cap", type=float, default=180.0,
                   help="stop starting requests after this long per level")
    p.add_argument("--quick", action="store_true", help="16 requests per level")
    p.add_argument("--servers", default="slmkit,llama-server,llama_cpp.server",
                   help="comma-separated: slmkit, llama-server, llama_cpp.server")
    args = p.parse_args()
    args.clients = [int(c) for c in args.clients.split(",")]
    if args.quick:
        args.requests = 16
    name, path = resolve_model(args.model)
    starters = {"slmkit": lambda: start_ours(name, args),
                "llama-server": lambda: start_llama_server(path, name, args),
                "llama_cpp.server": lambda: start_llama_cpp_server(path, name, args)}
    wanted = [s.strip() for s in args.servers.split(",") if s.strip()]
    unknown = [s for s in wanted if s not in starters]
    if unknown:
        p.error(f"unknown server(s) {', '.join(unknown)}; pick from {', '.join(starters)}")
    host = machine()  # before our servers load the CPU
    servers: dict[str, Server] = {}
    try:
        for label in wanted:
            servers[label] = starters[label]()
        results = measure(servers, name, args)
        peak = {label: server.peak_rss_mb() for label, server in servers.items()}
    finally:
        for server in servers.values():
            server.stop()
    payload = {"benchmark": "serve", "date": time.strftime("%Y-%m-%d %H:%M"),
               "machine": host,
               "config": {"model": name, "path": path, "threads": args.threads,
                          "ctx": args.ctx, "parallel": args.parallel,
                          "max_tokens": args.max_tokens, "clients": args.clients,
                          "requests_per_level": args.requests},
               "results": results, "peak_rss_mb": peak, "ratios": ratios(results, peak)}
    out = save("serve", payload, markdown(payload))
    print(markdown(payload))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
