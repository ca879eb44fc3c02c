"""Start ``slm serve`` on an installed slot as a subprocess and wait until it answers.

The edge package never imports ``serve``: probation and a hosted server run the same
command a user would, on the slot's model, adapters and ``serve`` options.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_command(slot: Path, manifest: dict, *, host: str, port: int) -> list[str]:
    """The ``slm serve`` command line for an installed slot."""
    cmd = [sys.executable, "-m", "slmkit.cli.main", "serve", str(slot / manifest["model"]["path"]),
           "--host", host, "--port", str(port), "--no-pull", "--log-level", "warning"]
    serve = manifest.get("serve") or {}
    for key, value in sorted(serve.items()):
        cmd += [f"--{key.replace('_', '-')}", str(value)]
    for name, rel in sorted((manifest.get("adapters") or {}).items()):
        cmd += ["--adapter", f"{name}={slot / rel}"]
    from slmkit.edge.rag import serve_args

    return cmd + serve_args(slot, manifest)


def _die_with_parent() -> None:
    """Linux: the server gets SIGTERM when the process that started it dies (an agent
    killed during probation leaves no orphan server holding memory and a port)."""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None).prctl(1, 15)  # PR_SET_PDEATHSIG, SIGTERM


class ServeProcess:
    """A running ``slm serve`` on a slot; use as a context manager or call :meth:`stop`."""

    def __init__(self, slot: Path, manifest: dict, *, host: str = "127.0.0.1",
                 port: int | None = None, log: Path | None = None) -> None:
        self.port = port or free_port()
        self.base_url = f"http://{host}:{self.port}"
        self.log_path = log
        out = open(log, "ab") if log else subprocess.DEVNULL
        from slmkit.settings import child_env

        self.proc = subprocess.Popen(serve_command(slot, manifest, host=host, port=self.port),
                                     stdout=out, stderr=subprocess.STDOUT, env=child_env(),
                                     preexec_fn=_die_with_parent)
        if log:
            out.close()

    def wait_ready(self, timeout: float = 120.0) -> str:
        """Wait for ``/ready``; returns the name of the model served from the slot. ``RuntimeError`` with the
        exit status when the server stops or does not come up in time."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"slm serve exited with status {self.proc.returncode} "
                                   f"before answering{self._log_tail()}")
            try:  # /ready names the models loaded at start-up: ours (/v1/models also
                # lists every stored model the server could load on demand)
                with urllib.request.urlopen(f"{self.base_url}/ready", timeout=2) as r:
                    return json.loads(r.read())["models"][0]
            except (urllib.error.URLError, OSError, ValueError, KeyError, IndexError):
                time.sleep(0.1)
        raise RuntimeError(f"slm serve did not become ready in {timeout:.0f} s"
                           f"{self._log_tail()}")

    def _log_tail(self) -> str:
        if not self.log_path or not Path(self.log_path).exists():
            return ""
        tail = Path(self.log_path).read_text(errors="replace").strip().splitlines()[-3:]
        return ": " + " | ".join(tail) if tail else ""

    def stop(self, timeout: float = 10.0) -> None:
        """Terminate the server (kill it when it does not stop in ``timeout``)."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self) -> ServeProcess:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
