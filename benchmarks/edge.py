"""Edge updates on the default model: rollback time, verified → committed time, agent idle
overhead, and 100 devices heartbeating into one collector over HTTP and over MQTT (a real
mosquitto broker; skipped with a note when it is not installed).

Targets (issue 15): rollback after a bad bundle ≤ 10 s; verified → serving ≤ 5 s; idle
agent < 1% CPU and < 50 MB RSS; 100 devices every 10 s: no loss, p95 ingest < 50 ms.

The anchor, measured in the same run: a cold `slm serve` start on the installed slot until
it answers one chat request — the floor under both update numbers, since probation starts
a server on the new slot. Every number is also printed as a ratio to it.

    python benchmarks/edge.py [--model smollm2-135m-instruct] [--devices 100] [--rounds 3]
                              [--parts updates,idle,fleet,mqtt]

The result note says "busy machine" or "idle machine" from the 1-minute load average at
start against the number of cores (``_common.load_note``). A run of some ``--parts`` only
is saved as ``edge-PART…``, next to the full run's file.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import load_note, machine, save  # noqa: E402

GOOD = {"prompt": "What is the capital of France? Answer in one word.", "expect": "Paris",
        "max_tokens": 8}
BAD = {"prompt": "What is the capital of France?", "expect": "zebra-unicorn-42",
       "max_tokens": 8}


def _setup(work: Path, model: str):
    from slmkit.edge import keys, repo
    from slmkit.edge.bundle import BundleSpec, build

    priv, pub = keys.generate(work / "signing.key")
    (work / "serve.toml").write_text("[serve]\nctx = 512\nparallel = 1\n")

    def publish(version: str, golden: dict, config_only: bool = False) -> None:
        g = work / f"g{version}.jsonl"
        g.write_text(json.dumps(golden) + "\n")
        out = work / f"b{version}.slmb"
        build(BundleSpec(model=model, version=version, name="bench", golden=str(g),
                         config=str(work / "serve.toml"), config_only=config_only), priv, out)
        repo.publish(out, work / "repo", priv)

    return pub, publish


def _timed_poll(work: Path, pub: Path, expect: str) -> tuple[float, dict]:
    """One poll; seconds from 'verified' (every file unpacked into the new slot's staging
    directory and checked) to the poll's end (commit or rollback), and the phases: unpack
    (first file written → verified), server start (swapped → probation), checks
    (probation → end)."""
    from slmkit.edge.agent import Agent, AgentConfig

    marks: dict[str, float] = {}
    agent = Agent(AgentConfig(repo=str(work / "repo"), public_key=str(pub),
                              device_dir=work / "device", device_id="bench",
                              on_step=lambda s: marks.setdefault(s, time.perf_counter())))
    outcome = agent.poll_once()
    end = time.perf_counter()
    if outcome.action != expect:
        raise SystemExit(f"expected {expect}, got {outcome.action}: {outcome.reason}")
    phases = {"unpack_s": marks["verified"] - marks["install"],
              "server_start_s": marks["probation"] - marks["swapped"],
              "golden_and_commit_s": end - marks["probation"]}
    return end - marks["verified"], {k: round(v, 2) for k, v in phases.items()}


def _serve_anchor(work: Path) -> float:
    from slmkit.edge.golden import run
    from slmkit.edge.server import ServeProcess

    slot = (work / "device/current").resolve()
    manifest = json.loads((slot / "manifest.json").read_text())
    t0 = time.perf_counter()
    with ServeProcess(slot, manifest) as server:
        model = server.wait_ready()
        run(server.base_url, model, [GOOD], {})
        return time.perf_counter() - t0


def _idle_agent(work: Path, pub: Path, seconds: float) -> dict:
    import psutil

    proc = subprocess.Popen([sys.executable, "-m", "slmkit.cli.main", "agent", "--repo",
                             str(work / "repo"), "--key", str(pub), "--device-dir",
                             str(work / "device"), "--device-id", "bench", "--interval", "5"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(5)  # start-up (imports) is not idle time
        p = psutil.Process(proc.pid)
        cpu0 = p.cpu_times()
        time.sleep(seconds)
        cpu1 = p.cpu_times()
        rss = p.memory_info().rss
    finally:
        proc.terminate()
        proc.wait()
    used = (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)
    return {"cpu_percent": round(100 * used / seconds, 2), "rss_mb": round(rss / 2**20, 1),
            "poll_interval_s": 5}


def _fleet(work: Path, devices: int, rounds: int, period: float) -> dict:
    from slmkit.edge.fleet import FleetDB
    from slmkit.edge.server import free_port

    db = FleetDB(work / "fleet.db")
    tokens = {f"sim-{i:03d}": db.add_device(f"sim-{i:03d}") for i in range(devices)}
    db.close()
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "slmkit.cli.main", "fleet", "serve", "--db",
                             str(work / "fleet.db"), "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    _wait(url + "/health")
    latencies: list[float] = []
    failures = [0]
    lock = threading.Lock()

    def device(dev: str, token: str, offset: float) -> None:
        time.sleep(offset)
        for r in range(rounds):
            body = json.dumps({"device_id": dev, "version": "1.0.0", "health": "ok",
                               "tok_s": 50.0, "round": r}).encode()
            req = urllib.request.Request(f"{url}/v1/fleet/heartbeat", data=body, headers={
                "Content-Type": "application/json", "Authorization": f"Bearer {token}"})
            t0 = time.perf_counter()
            try:
                urllib.request.urlopen(req, timeout=10).read()
                with lock:
                    latencies.append(time.perf_counter() - t0)
            except OSError:
                with lock:
                    failures[0] += 1
            time.sleep(period)

    _simulate(tokens, period, device)
    proc.terminate()
    proc.wait()
    db = FleetDB(work / "fleet.db")
    stored = db.conn.execute("SELECT count(*) FROM heartbeats").fetchone()[0]
    db.close()
    return {"devices": devices, "period_s": period, "sent": devices * rounds,
            "stored": stored, "failed": failures[0], **_percentiles(latencies)}


def _simulate(tokens: dict[str, str], period: float, device) -> None:
    """``device(id, token, offset)`` for every device at once, their starts spread over one
    period (as a fleet's heartbeats are)."""
    threads = [threading.Thread(target=device, args=(d, t, i * period / len(tokens)))
               for i, (d, t) in enumerate(tokens.items())]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def _percentiles(seconds: list[float]) -> dict:
    """p50 and p95 in milliseconds (None without samples)."""
    if not seconds:
        return {"p50_ms": None, "p95_ms": None}
    seconds = sorted(seconds)
    return {"p50_ms": round(1000 * statistics.median(seconds), 1),
            "p95_ms": round(1000 * seconds[int(0.95 * (len(seconds) - 1))], 1)}


def _fleet_mqtt(work: Path, devices: int, rounds: int, period: float) -> dict:
    """The same load over MQTT: each simulated device its own paho client publishing signed
    heartbeats (QoS 1) to a mosquitto broker, the collector (`slm fleet serve --mqtt`)
    storing them; ingest latency = stored time - the device's send time (one clock)."""
    import shutil

    from slmkit.edge.fleet import FleetDB
    from slmkit.edge.mqtt import Publisher
    from slmkit.edge.server import free_port

    binary = shutil.which("mosquitto") or ("/usr/sbin/mosquitto"
                                           if Path("/usr/sbin/mosquitto").exists() else None)
    if binary is None:
        return {"skipped": "mosquitto is not installed (make mosquitto)"}
    db_path = work / "fleet-mqtt.db"
    db = FleetDB(db_path)
    tokens = {f"mq-{i:03d}": db.add_device(f"mq-{i:03d}") for i in range(devices)}
    db.close()
    port = free_port()
    (work / "mosquitto.conf").write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\n"
                                         "max_queued_messages 100000\n")
    broker = subprocess.Popen([binary, "-c", str(work / "mosquitto.conf")],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"mqtt://127.0.0.1:{port}/bench/fleet"
    collector = subprocess.Popen([sys.executable, "-m", "slmkit.cli.main", "fleet", "serve",
                                  "--db", str(db_path), "--port", str(free_port()), "--mqtt",
                                  url], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                 text=True)
    failures = [0]
    try:
        collector.stdout.readline()  # "subscribed …": the subscription is in place

        def device(dev: str, token: str, offset: float) -> None:
            pub = Publisher(url, dev, token)
            time.sleep(offset)
            for r in range(rounds):
                if not pub.send({"device_id": dev, "version": "1.0.0", "health": "ok",
                                 "round": r, "t_sent": time.time()}):
                    failures[0] += 1
                time.sleep(period)
            pub.close()

        _simulate(tokens, period, device)
        time.sleep(2)  # the last messages on their way through the broker
    finally:
        collector.terminate()
        collector.wait()
        broker.terminate()
        broker.wait()
    db = FleetDB(db_path)
    rows = db.conn.execute("SELECT received, payload FROM heartbeats").fetchall()
    db.close()
    latencies = [r - json.loads(p)["t_sent"] for r, p in rows]
    return {"devices": devices, "period_s": period, "sent": devices * rounds,
            "stored": len(rows), "failed": failures[0], **_percentiles(latencies)}


def _wait(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="smollm2-135m-instruct")
    ap.add_argument("--devices", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=3, help="heartbeats per simulated device")
    ap.add_argument("--idle-seconds", type=float, default=30)
    ap.add_argument("--parts", default=",".join(PARTS),
                    help=f"comma-separated subset of {','.join(PARTS)}")
    args = ap.parse_args()
    parts = set(args.parts.split(","))
    if parts - set(PARTS):
        raise SystemExit(f"unknown parts {parts - set(PARTS)}: use {','.join(PARTS)}")
    result = {"machine": machine(), "note": load_note(), "parts": sorted(parts)}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if parts & {"updates", "idle"}:
            result.update(_updates(work, args, parts))
        if "fleet" in parts:
            result["fleet"] = _fleet(work, args.devices, args.rounds, 10.0)
        if "mqtt" in parts:
            result["fleet_mqtt"] = _fleet_mqtt(work, args.devices, args.rounds, 10.0)
    print(json.dumps(result, indent=2))
    # a partial run keeps its own file: it does not replace a full run's
    save("edge" if parts == set(PARTS) else "edge-" + "-".join(sorted(parts)), result,
         _markdown(result))


PARTS = ("updates", "idle", "fleet", "mqtt")


def _updates(work: Path, args, parts: set[str]) -> dict:
    """Install, anchor, update and rollback timings; the idle agent."""
    from slmkit.models.store import Store

    pub, publish = _setup(work, Store().resolve(args.model).path)
    publish("1.0.0", GOOD)
    _timed_poll(work, pub, "installed")
    out: dict = {}
    if "updates" in parts:
        anchor = _serve_anchor(work)
        publish("1.1.0", GOOD)
        update, update_phases = _timed_poll(work, pub, "installed")
        publish("1.2.0", BAD, config_only=True)
        rollback, rollback_phases = _timed_poll(work, pub, "rolled_back")
        out.update({"anchor_serve_start_s": round(anchor, 2),
                    "verified_to_committed_s": round(update, 2),
                    "rollback_s": round(rollback, 2),
                    "update_phases": update_phases, "rollback_phases": rollback_phases,
                    "update_over_anchor": round(update / anchor, 2),
                    "rollback_over_anchor": round(rollback / anchor, 2)})
    if "idle" in parts:
        out["idle_agent"] = _idle_agent(work, pub, args.idle_seconds)
    return out


def _markdown(r: dict) -> str:
    md = (f"# Edge updates ({time.strftime('%Y-%m-%d')}, {r['note']})\n\n"
          f"| measure | value | target |\n|---|---|---|\n")
    if "anchor_serve_start_s" in r:
        a, u, b = r["anchor_serve_start_s"], r["verified_to_committed_s"], r["rollback_s"]
        md += (f"| anchor: cold `slm serve` start + 1 answer | {a:.2f} s | - |\n"
               f"| verified → committed (install, swap, probation) | {u:.2f} s "
               f"({u / a:.2f}× anchor) | ≤ 5 s |\n"
               f"| rollback after failed golden prompts | {b:.2f} s "
               f"({b / a:.2f}× anchor) | ≤ 10 s |\n"
               f"| update phases | {r['update_phases']} | - |\n"
               f"| rollback phases | {r['rollback_phases']} | - |\n")
    if "idle_agent" in r:
        idle = r["idle_agent"]
        md += (f"| idle agent (poll every 5 s) | {idle['cpu_percent']}% CPU, "
               f"{idle['rss_mb']} MB RSS | < 1%, < 50 MB |\n")
    for key, how in (("fleet", "HTTP"), ("fleet_mqtt", "MQTT")):
        f = r.get(key)
        if f and "skipped" in f:
            md += f"| heartbeats over {how} | skipped: {f['skipped']} | - |\n"
        elif f:
            md += (f"| {f['devices']} devices every 10 s over {how} | {f['stored']}/{f['sent']} "
                   f"stored, p95 {f['p95_ms']} ms | no loss, < 50 ms |\n")
    return md


if __name__ == "__main__":
    main()
