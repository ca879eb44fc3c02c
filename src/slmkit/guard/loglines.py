"""Real-looking log lines, full of numbers that are not personal data: timestamps, PIDs,
ports, versions, durations, sizes, hex ids, UUIDs, digests, epoch times, memory addresses.

Some lines carry a client IP or an e-mail address; those are planted (their spans are
known). Anything else the guard finds in these lines is a false positive.
"""

from __future__ import annotations

import random
import string
import uuid

from slmkit.guard import base as E
from slmkit.guard.synthetic import Builder, Sample

HOSTS = ("web-01", "db-2", "edge-kr-7", "worker-3", "ip-172-31-4-20", "build-agent")
SERVICES = ("sshd", "nginx", "kubelet", "systemd", "postgres", "dockerd", "cron", "app")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _hex(r: random.Random, n: int) -> str:
    return "".join(r.choice("0123456789abcdef") for _ in range(n))


def _ts(r: random.Random) -> str:
    y, mo, d = r.randint(2019, 2026), r.randint(1, 12), r.randint(1, 28)
    h, mi, s, ms = r.randint(0, 23), r.randint(0, 59), r.randint(0, 59), r.randint(0, 999)
    return r.choice([f"{y}-{mo:02d}-{d:02d} {h:02d}:{mi:02d}:{s:02d},{ms:03d}",
                     f"{y}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:{s:02d}.{ms:03d}Z",
                     f"{y}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:{s:02d}+09:00",
                     f"{MONTHS[mo - 1]} {d:2d} {h:02d}:{mi:02d}:{s:02d}",
                     f"{d:02d}/{MONTHS[mo - 1]}/{y}:{h:02d}:{mi:02d}:{s:02d} +0000",
                     f"{y}/{mo:02d}/{d:02d} {h:02d}:{mi:02d}:{s:02d}"])


def _ver(r: random.Random) -> str:
    return r.choice([f"{r.randint(0, 20)}.{r.randint(0, 30)}.{r.randint(0, 99)}",
                     f"{r.randint(1, 9)}.{r.randint(0, 9)}.{r.randint(0, 9)}.{r.randint(0, 999)}",
                     f"{r.randint(1, 3)}.{r.randint(0, 40)}-{r.randint(1, 9)}"
                     f"+deb12u{r.randint(1, 9)}",
                     f"{r.randint(4, 6)}.{r.randint(1, 19)}.{r.randint(0, 200)}-"
                     f"{r.randint(1, 30)}-amd64"])


def _ip(r: random.Random) -> str:
    return ".".join(str(x) for x in (r.choice([10, 172, 192, 34, 52, 203, 118]),
                                     r.randint(0, 255), r.randint(0, 255), r.randint(1, 254)))


def _line(r: random.Random, b: Builder) -> None:
    kind = r.randrange(16)
    ts, pid, port = _ts(r), r.randint(1, 4194304), r.randint(1024, 65535)
    if kind == 0:
        b.text(f"{ts} {r.choice(HOSTS)} sshd[{pid}]: Connection closed by authenticating user "
               f"root ").value(E.IP_ADDRESS, _ip(r)).text(f" port {port} [preauth]")
    elif kind == 1:
        b.value(E.IP_ADDRESS, _ip(r)).text(
            f' - - [{ts}] "GET /api/v{r.randint(1, 3)}/items/{r.randint(1, 99999)}?page='
            f'{r.randint(1, 50)} HTTP/1.1" {r.choice([200, 204, 301, 404, 500])} '
            f'{r.randint(0, 99999)}'
            f' "-" "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) '
            f'Chrome/{r.randint(100, 130)}.0.0.0 Safari/537.36"')
    elif kind == 2:
        b.text(f"{ts} - app.worker - INFO - processed batch {r.randint(1, 9999)} in "
               f"{r.random():.3f}s (items={r.randint(1, 4096)}, queue={r.randint(0, 99)})")
    elif kind == 3:
        b.text(f"{ts}  WARN {pid} --- [nio-{port}-exec-{r.randint(1, 9)}] c.e.s.OrderService : "
               f"retry {r.randint(1, 5)}/5 for order {uuid.UUID(int=r.getrandbits(128))}")
    elif kind == 4:
        b.text(f"I{r.randint(1, 12):02d}{r.randint(1, 28):02d} {r.randint(0, 23):02d}:"
               f"{r.randint(0, 59):02d}:{r.randint(0, 59):02d}.{r.randint(0, 999999):06d}"
               f"       1 controller.go:{r.randint(1, 999)}] Pod default/web-{_hex(r, 9)}-"
               f"{''.join(r.choice(string.ascii_lowercase + string.digits) for _ in range(5))}"
               f" status Running, restarts={r.randint(0, 9)}")
    elif kind == 5:
        b.text(f"[{r.randint(0, 99999):5d}.{r.randint(0, 999999):06d}] eth0: link up, "
               f"{r.choice([100, 1000, 10000])} Mbps, full duplex, lpa 0x{_hex(r, 4).upper()}")
    elif kind == 6:
        b.text(f"{ts} UTC [{pid}] LOG:  checkpoint complete: wrote {r.randint(1, 99999)} buffers "
               f"({r.random() * 100:.1f}%); 0 WAL file(s) added, 0 removed, {r.randint(0, 9)} "
               f"recycled; write={r.random() * 300:.3f} s, sync={r.random():.3f} s")
    elif kind == 7:
        b.text(f"Digest: sha256:{_hex(r, 64)} Status: Downloaded newer image for "
               f"nginx:{_ver(r)} ({r.randint(1, 999)}MB)")
    elif kind == 8:
        b.text(f"commit {_hex(r, 40)} {r.randint(1500000000, 1800000000)} +0900 "
               f"Merge pull request #{r.randint(1, 9999)} from org/release-{_ver(r)}")
    elif kind == 9:
        b.text(f"latency_ms={r.random() * 500:.1f} p95={r.random() * 900:.1f} "
               f"rps={r.randint(1, 9999)} mem={r.randint(64, 8192)}MiB heap=0x7ff{_hex(r, 9)} "
               f"tid={r.randint(10**14, 10**15)}")
    elif kind == 10:
        b.text(f"request_id={_hex(r, 16)} trace_id={_hex(r, 32)} span_id={_hex(r, 16)} "
               f"status={r.choice([200, 201, 429, 503])} duration={r.random():.3f}s "
               f"bytes={r.randint(0, 10**7)}")
    elif kind == 11:
        b.text(f"Setting up libssl3:amd64 ({_ver(r)}) ... python {_ver(r)}; node v{_ver(r)}; "
               f"kernel {_ver(r)}; build {r.randint(1000, 99999)}")
    elif kind == 12:
        b.text(f"ts={r.randint(1600000000000, 1800000000000)} seq={r.randint(10**12, 10**14)} "
               f"offset={r.randint(0, 10**9)} partition={r.randint(0, 63)} "
               f"lag={r.randint(0, 5000)}")
    elif kind == 13:
        b.text(f"Listening on 0.0.0.0:{port} and [::]:{port + 1}; workers={r.randint(1, 64)} "
               f"pid={pid} uptime {r.randint(0, 999)}:{r.randint(0, 59):02d}:"
               f"{r.randint(0, 59):02d}")
    elif kind == 14:
        b.text(f"{ts} [INFO] 주문 처리 완료: 주문번호 {r.randint(2019, 2026)}{r.randint(1, 12):02d}"
               f"{r.randint(1, 28):02d}-{r.randint(0, 999999):06d}, "
               f"금액 {r.randint(1, 999):,},000원, "
               f"소요 {r.randint(1, 999)}ms")
    else:
        b.text(f"{ts} {r.choice(HOSTS)} {r.choice(SERVICES)}[{pid}]: user ").value(
            E.EMAIL, f"ops{r.randint(1, 99)}@example.com").text(
            f" logged in via token auth (session {_hex(r, 8)}, ttl {r.randint(60, 86400)}s)")


def log_lines(n: int = 1000, seed: int = 0) -> list[Sample]:
    """``n`` log lines in 16 common formats; planted spans are client IPs and e-mails."""
    r = random.Random(seed)
    out = []
    for _ in range(n):
        b = Builder()
        _line(r, b)
        out.append(b.build())
    return out
