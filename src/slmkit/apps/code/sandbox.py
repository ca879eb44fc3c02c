"""Run untrusted generated code in a separate, limited interpreter.

Each program runs in a fresh ``python -I`` (isolated: no site-packages of the user, no
environment-driven imports) in an empty temporary directory, with a wall-clock timeout, CPU
and address-space limits, no core files, and a closed stdin. It is a guard against
accidents (infinite loops, memory blow-ups, stray file writes in the working directory),
not a security boundary against hostile code: run evaluations on a machine you can
afford to lose, as the HumanEval authors advise.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from dataclasses import dataclass

MEMORY_BYTES = 1 << 30


@dataclass
class RunResult:
    """How one program ended."""

    passed: bool
    status: str  # passed | failed | timeout
    detail: str = ""


def _limits(cpu_s: int) -> None:  # runs in the child before exec
    import resource

    resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s))
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_BYTES, MEMORY_BYTES))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def run_program(program: str, timeout_s: float = 10.0) -> RunResult:
    """Run ``program`` (Python source); passed when it exits 0 within ``timeout_s``."""
    with tempfile.TemporaryDirectory(prefix="slm-sandbox-") as tmp:
        try:
            proc = subprocess.run(
                [sys.executable, "-I", "-c", program], cwd=tmp, stdin=subprocess.DEVNULL,
                capture_output=True, text=True, timeout=timeout_s,
                preexec_fn=(lambda: _limits(int(timeout_s) + 1)) if sys.platform != "win32"
                else None)
        except subprocess.TimeoutExpired:
            return RunResult(False, "timeout", f"no result within {timeout_s:g} s")
    if proc.returncode == 0:
        return RunResult(True, "passed")
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or [f"exit {proc.returncode}"]
    return RunResult(False, "failed", tail[0][:300])
