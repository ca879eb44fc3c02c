"""A real MQTT broker for tests: Debian's mosquitto (`make mosquitto`) on a free loopback
port, or a skip saying how to get it."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def mosquitto_binary() -> str | None:
    found = shutil.which("mosquitto")
    if found:
        return found
    return "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").is_file() else None


@contextmanager
def mosquitto(work: Path) -> Iterator[int]:
    """A mosquitto broker on 127.0.0.1 (anonymous clients allowed); yields its port."""
    binary = mosquitto_binary()
    if binary is None:
        pytest.skip("mosquitto is not installed (`make mosquitto`, or apt-get install "
                    "mosquitto): the MQTT heartbeat tests need a real broker")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    conf = work / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    proc = subprocess.Popen([binary, "-c", str(conf)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"mosquitto did not start (status {proc.poll()})")
                time.sleep(0.05)
        yield port
    finally:
        proc.terminate()
        proc.wait(10)
