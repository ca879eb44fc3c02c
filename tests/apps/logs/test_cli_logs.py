"""`slm logs` end to end in a subprocess: parse with a state file, detect with a baseline,
follow a growing file, and clear errors."""

from __future__ import annotations

import json
import subprocess
import sys
import time

LOG = "".join(f"2024-01-01 10:00:{i % 60:02d} INFO api: served request {i} in {10 + i % 5} ms\n"
              for i in range(80))
ERR = "2024-01-01 10:02:00 ERROR db: connection refused by 10.0.0.9\n"


def slm(*args, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "slmkit.cli.main", *args], input=stdin,
                          capture_output=True, text=True, timeout=120)


def test_parse_stdin_and_state(tmp_path):
    state = tmp_path / "s.json"
    r = slm("logs", "parse", "-", "--state", str(state), stdin="".join(LOG.splitlines(True)[:8]))
    assert r.returncode == 0, r.stderr
    recs = [json.loads(x) for x in r.stdout.splitlines()]
    assert recs and all(x["event_id"] == "T1" for x in recs)
    r = slm("logs", "parse", "-", "--state", str(state), "--templates", stdin=ERR)
    tmpl = [json.loads(x) for x in r.stdout.splitlines()]
    assert {t["event_id"] for t in tmpl} == {"T1", "T2"}


def test_detect_with_baseline_and_missing_file(tmp_path):
    base = tmp_path / "base.log"
    base.write_text(LOG)
    log = tmp_path / "today.log"
    log.write_text(LOG + ERR)
    r = slm("logs", "detect", str(log), "--baseline", str(base))
    assert r.returncode == 0, r.stderr
    out = [json.loads(x) for x in r.stdout.splitlines()]
    assert [o["line"] for o in out] == [81] and "baseline: 80 events" in r.stderr
    r = slm("logs", "detect", str(tmp_path / "nope.log"))
    assert r.returncode != 0 and "cannot read" in r.stderr


def test_follow_reads_appended_lines(tmp_path):
    log = tmp_path / "live.log"
    log.write_text(LOG)
    proc = subprocess.Popen([sys.executable, "-m", "slmkit.cli.main", "logs", "detect",
                             str(log), "--follow"], stdout=subprocess.PIPE, text=True)
    try:
        time.sleep(2.0)
        with open(log, "a") as fh:
            fh.write(ERR)
        line = proc.stdout.readline()
        assert json.loads(line)["line"] == 81
    finally:
        proc.terminate()
        proc.wait(timeout=10)
