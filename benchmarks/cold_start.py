"""Cold start: how long a fresh `slm serve` takes to answer, and `slm run` end to end.

Two measures on the default model (`slm catalog` marks it), each in a fresh process,
hyperfine-style (one warm-up each, then ``--rounds`` rounds alternating every command,
median and p90 of the wall time; the CPU time of each child is reported too, it is less
sensitive to a busy machine):

- **serve ready**: ``slm serve`` started → ``GET /v1/models`` answers 200 → a 1-token chat
  completion answers 200 (target ≤ 1.0 s). Anchor: ``llama-server`` by the same protocol,
  same GGUF, threads, slots and context per slot.
- **run**: ``slm run "Hi" --max-tokens 8`` from start to exit (target ≤ 0.8 s). Anchors:
  ``llama-simple`` (``-n 8``) when it has been built next to ``llama-server``, and always a
  bare ``python -c pass`` (the interpreter start every Python CLI pays). Two more rows:
  **run, new prompt** (a prompt no earlier run sent, so llama.cpp's prompt cache holds
  only the system prompt's part; see ``runtime/llamacpp/prompt_cache.py``) and **run,
  defaults** (no ``--threads``/``--ctx``: what a user types; timed for the baseline too).

The source trees are byte-compiled first (as ``pip install`` does), so no run pays for
compiling modules.

    python benchmarks/cold_start.py --threads 1 --rounds 10
    python benchmarks/cold_start.py --baseline-src ../main/src   # + an older checkout, same run
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import describe_machine, fa_flag, machine, save

TARGETS = {"slm serve ready": 1.0, "slm run": 0.8, "slm run, new prompt": 0.8,
           "slm run, defaults": 0.8}
ANCHOR_OF = {"slm serve ready": "llama-server ready", "slm run": "python -c pass"}


def _cpu_children() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _env(src: str | None) -> dict | None:
    """The environment for a command run from the source tree ``src`` (None: ours)."""
    if src is None:
        return None
    return {**os.environ, "PYTHONPATH": str(Path(src).resolve())}


def byte_compile(trees: list) -> bool:
    """Compile the source trees' modules to bytecode first, as ``pip install`` does: a
    checkout run with PYTHONDONTWRITEBYTECODE set would otherwise recompile every changed
    module at each start (0.1-0.2 s of CPU here), a cost no installed copy pays."""
    import compileall

    return all(compileall.compile_dir(str(tree), quiet=1) for tree in trees if tree)


def time_exit(cmd: list[str], src: str | None = None) -> tuple[float, float]:
    """Wall and CPU seconds of ``cmd`` from start to exit (it must succeed)."""
    cpu0, t0 = _cpu_children(), time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=_env(src))
    wall = time.perf_counter() - t0
    if proc.returncode:
        raise RuntimeError(f"{' '.join(cmd[:4])} … failed ({proc.returncode}): "
                           f"{proc.stderr[-2000:]}")
    return wall, _cpu_children() - cpu0


def time_ready(cmd: list[str], port: int, model: str, src: str | None = None,
               timeout: float = 120) -> tuple[float, float]:
    """Wall seconds from starting the server ``cmd`` to its first 1-token answer, and the
    CPU seconds the server used until then (it is stopped right after)."""
    body = json.dumps({"model": model, "max_tokens": 1, "temperature": 0,
                       "messages": [{"role": "user", "content": "Hi"}]})
    cpu0, t0 = _cpu_children(), time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env=_env(src))
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{cmd[0]} exited: {proc.stderr.read().decode()[-2000:]}")
            if time.perf_counter() - t0 > timeout:
                raise RuntimeError(f"{' '.join(cmd[:4])} … not ready after {timeout} s")
            if (_status(port, "GET", "/v1/models") == 200
                    and _status(port, "POST", "/v1/chat/completions", body) == 200):
                wall = time.perf_counter() - t0
                break
            time.sleep(0.01)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stderr.close()
    return wall, _cpu_children() - cpu0


def _status(port: int, method: str, path: str, body: str | None = None) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request(method, path, body=body,
                     headers={"Content-Type": "application/json"} if body else {})
        resp = conn.getresponse()
        resp.read()
        return resp.status
    except OSError:
        return 0
    finally:
        conn.close()


def commands(args, name: str, path: str, scratch: str) -> dict[str, tuple]:
    """Label → (kind, command, port, source tree) for every measured command; ``scratch``:
    a folder the commands may write (dropped afterwards)."""
    from _cpp import binaries
    from serve import free_port

    py, t = sys.executable, str(args.threads)
    bins = binaries()
    p_ours, p_cpp = free_port(), free_port()
    slots, ctx = str(args.parallel), args.ctx
    out = {
        "slm serve ready": ("ready", [py, "-m", "slmkit.cli.main", "serve", name, "--host",
                                      "127.0.0.1", "--port", str(p_ours), "--threads", t,
                                      "--parallel", slots, "--ctx", str(ctx), "--log-level",
                                      "warning"], p_ours, None),
        "llama-server ready": ("ready", [str(bins["llama-server"]), "-m", path, "--alias",
                                         name, "--host", "127.0.0.1", "--port", str(p_cpp),
                                         "-t", t, "-np", slots, "-c", str(ctx * args.parallel),
                                         "-kvu", "-fa", fa_flag(), "--log-disable"], p_cpp,
                               None),
        "slm run": ("exit", [py, "-m", "slmkit.cli.main", "run", "Hi", "--max-tokens", "8",
                             "--threads", t, "--ctx", str(ctx)], None, None),
        # a prompt never seen before (the prompt cache holds only the system prompt's part)
        # (its own prompt-cache folder, so the other commands keep finding "Hi" cached)
        "slm run, new prompt": ("exit", ["env", f"SLM_CACHE_HOME={scratch}", py, "-m",
                                         "slmkit.cli.main", "run", "Hi {n}", "--max-tokens",
                                         "8", "--threads", t, "--ctx", str(ctx)], None, None),
        # what a user types: threads and context from the defaults
        "slm run, defaults": ("exit", [py, "-m", "slmkit.cli.main", "run", "Hi",
                                       "--max-tokens", "8"], None, None),
        "python -c pass": ("exit", [py, "-c", "pass"], None, None),
    }
    if args.baseline_src:  # the same two commands from another checkout (before/after)
        kind, cmd, _, _ = out["slm serve ready"]
        p_base = free_port()
        cmd = [str(p_base) if c == str(p_ours) else c for c in cmd]
        out["slm serve ready (baseline)"] = (kind, cmd, p_base, args.baseline_src)
        out["slm run (baseline)"] = (*out["slm run"][:3], args.baseline_src)
        out["slm run, defaults (baseline)"] = (*out["slm run, defaults"][:3], args.baseline_src)
    simple = bins["llama-server"].parent / "llama-simple"
    if simple.exists():
        out["llama-simple -n 8"] = ("exit", [str(simple), "-m", path, "-n", "8", "Hi"], None,
                                    None)
        ANCHOR_OF["slm run"] = "llama-simple -n 8"
    return out


def measure(cmds: dict[str, tuple], name: str, rounds: int) -> dict[str, dict[str, list]]:
    """One warm-up per command, then ``rounds`` rounds; the order rotates every round."""
    times = {label: {"wall": [], "cpu": []} for label in cmds}

    calls = iter(range(10**9))

    def one(label: str) -> tuple[float, float]:
        kind, cmd, port, src = cmds[label]
        n = str(next(calls))  # "{n}" in a command: a new value at every call
        cmd = [c.replace("{n}", n) for c in cmd]
        return time_exit(cmd, src) if kind == "exit" else time_ready(cmd, port, name, src)

    labels = list(cmds)
    for label in labels:
        one(label)
    for r in range(rounds):
        for label in labels[r % len(labels):] + labels[:r % len(labels)]:
            wall, cpu = one(label)
            times[label]["wall"].append(wall)
            times[label]["cpu"].append(cpu)
        print(f"round {r + 1}/{rounds}: " + "  ".join(
            f"{label} {times[label]['wall'][-1]:.2f}s" for label in labels), flush=True)
    return times


def summarise(times: dict[str, dict[str, list]]) -> list[dict]:
    rows = []
    for label, t in times.items():
        wall = sorted(t["wall"])
        rows.append({"command": label, "median_s": round(statistics.median(wall), 4),
                     "p90_s": round(wall[max(0, int(len(wall) * 0.9) - 1)], 4),
                     "cpu_median_s": round(statistics.median(t["cpu"]), 4)})
    return rows


def ratios(rows: list[dict]) -> dict:
    by = {r["command"]: r for r in rows}
    out = {}
    pairs = [*ANCHOR_OF.items(),
             *((k, f"{k} (baseline)") for k in (*ANCHOR_OF, "slm run, defaults"))]
    for ours, anchor in pairs:
        if ours in by and anchor in by:
            key = "vs_baseline" if anchor.endswith("(baseline)") else "vs_" + anchor.split()[0]
            out[f"{ours} {key}"] = round(by[ours]["median_s"] / by[anchor]["median_s"], 3)
            out[f"{ours} cpu {key}"] = round(by[ours]["cpu_median_s"]
                                             / max(by[anchor]["cpu_median_s"], 1e-3), 3)
    return out


def markdown(payload: dict) -> str:
    cfg = payload["config"]
    lines = [f"# Cold start — {payload['date']}", "",
             (f"Model `{cfg['model']}`, {cfg['threads']} threads, {cfg['parallel']} slots, "
              f"ctx {cfg['ctx']} per slot, median of {cfg['rounds']} fresh processes "
              f"(alternating). Machine: {describe_machine(payload['machine'])}."), "",
             "| command | median (s) | p90 (s) | CPU median (s) | target |",
             "|---|---|---|---|---|"]
    for r in payload["rows"]:
        target = TARGETS.get(r["command"])
        verdict = "" if target is None else (
            f"≤ {target} s: {'PASS' if r['median_s'] <= target else 'FAIL'}")
        lines.append(f"| {r['command']} | {r['median_s']:.3f} | {r['p90_s']:.3f} | "
                     f"{r['cpu_median_s']:.3f} | {verdict} |")
    lines += ["", "| ratio (slmkit ÷ anchor, same run) | value |", "|---|---|"]
    lines += [f"| {k} | {v:.2f}× |" for k, v in payload["ratios"].items()]
    return "\n".join(lines) + "\n"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default=None, help="default: the catalog default")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--parallel", type=int, default=4, help="slots (slm serve's default)")
    p.add_argument("--ctx", type=int, default=4096, help="context per slot (the default)")
    p.add_argument("--rounds", type=int, default=10)
    p.add_argument("--baseline-src", default=None, metavar="DIR",
                   help="also time both slm commands from this source tree (PYTHONPATH)")
    args = p.parse_args()
    from serve import resolve_model

    name, path = resolve_model(args.model)
    compiled = byte_compile([Path(__file__).resolve().parents[1] / "src", args.baseline_src])
    with open(path, "rb") as f:  # the page cache holds the file for every command alike
        while f.read(1 << 24):
            pass
    host = machine()
    with tempfile.TemporaryDirectory(prefix="slm-cold-") as scratch:
        rows = summarise(measure(commands(args, name, path, scratch), name, args.rounds))
    payload = {"benchmark": "cold_start", "date": time.strftime("%Y-%m-%d %H:%M"),
               "machine": host,
               "config": {"model": name, "path": path, "threads": args.threads,
                          "parallel": args.parallel, "ctx": args.ctx, "rounds": args.rounds,
                          "baseline_src": args.baseline_src, "byte_compiled": compiled},
               "rows": rows, "ratios": ratios(rows)}
    md = markdown(payload)
    print("\n" + md)
    print(f"saved {save('cold-start', payload, md)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
