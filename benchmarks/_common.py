"""Helpers shared by the benchmark scripts: child processes, medians, result files."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results"


def run_child(script: str, args: list[str]) -> dict:
    """Run ``script --child ...`` in a fresh interpreter and parse the JSON line it prints."""
    out = subprocess.run([sys.executable, script, "--child", *args], check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def median_of(rows: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in rows)


def flash_attn() -> bool:
    """slmkit's flash-attention setting (``SLM_FLASH_ATTN``, off by default): every anchor is
    run with the same attention kernel, so a ratio compares engines, not kernels."""
    from slmkit.settings import get_settings

    return get_settings().flash_attn


def fa_flag(style: str = "on") -> str:
    """The ``-fa`` value for llama.cpp's tools: ``on``/``off`` (llama-server) or ``1``/``0``
    (llama-bench)."""
    return ("on" if flash_attn() else "off") if style == "on" else str(int(flash_attn()))


BUSY_LOAD = 1.5  # one-minute load average above which a machine is called busy


def machine() -> dict:
    """The machine a result was measured on, with its load average when measured."""
    import psutil

    load = [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else []
    return {
        "cpu": _cpu_name(), "physical_cores": psutil.cpu_count(logical=False),
        "logical_cores": psutil.cpu_count(), "ram_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "os": platform.platform(), "python": platform.python_version(),
        "loadavg": load, "busy": bool(load) and load[0] > BUSY_LOAD,
    }


def load_note() -> str:
    """How loaded the machine is now, for a result's note: "idle" or "busy" with the
    1-minute load average (busy: above half the logical cores)."""
    import os

    load, cores = os.getloadavg()[0], os.cpu_count() or 1
    state = "busy machine (other jobs share the cores)" if load > cores / 2 else "idle machine"
    return f"{state}, load average {load:.1f} at start on {cores} cores"


def describe_machine(m: dict) -> str:
    """One line for a result's markdown: CPU, cores and load ("busy machine" when loaded)."""
    text = f"{m['cpu']} ({m['physical_cores']} cores)"
    if m.get("loadavg"):
        load = " / ".join(f"{x:g}" for x in m["loadavg"])
        text += f", load average {load}" + (" — busy machine" if m.get("busy") else "")
    return text


def _cpu_name() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def save(name: str, payload: dict, markdown: str) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y-%m-%d")
    path = RESULTS / f"{name}-{stamp}.json"
    path.write_text(json.dumps(payload, indent=2) + "\n")
    (RESULTS / f"{name}-{stamp}.md").write_text(markdown)
    return path
