"""Events (formats, multi-line), the parser's resumable stream and the detector's signals."""

from __future__ import annotations

from pathlib import Path

import pytest

from slmkit.apps.logs.detect import Detector, DetectorConfig, detect_lines
from slmkit.apps.logs.detect_eval import evaluate_detection, run_pca, windows
from slmkit.apps.logs.events import LineSplitter, format_regex
from slmkit.apps.logs.parser import LogParser, parse_lines

BGL = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "bgl-anomaly"
TRACE = """\
2024-01-01 10:00:00 ERROR api: request 17 failed
Traceback (most recent call last):
  File "app.py", line 3, in <module>
    handler()
ValueError: boom
2024-01-01 10:00:01 INFO api: served request 18 in 12 ms
2024-01-01 10:00:02 WARN db: slow query 900 ms
java.lang.IllegalStateException: closed
\tat com.acme.Pool.get(Pool.java:42)
Caused by: java.io.IOException: reset
\t... 7 more
2024-01-01 10:00:03 INFO api: served request 19 in 15 ms
""".splitlines(keepends=True)


def test_multiline_events_are_one_record_each():
    recs = list(parse_lines(TRACE))
    assert [r["line"] for r in recs] == [1, 6, 7, 8, 12]
    assert len(recs[0]["extra"]) == 4 and recs[0]["extra"][-1] == "ValueError: boom"
    assert recs[0]["level"] == "ERROR" and recs[0]["fields"]["Time"] == "2024-01-01 10:00:00"
    assert [len(r["extra"]) for r in recs[1:]] == [0, 0, 3, 0]
    assert recs[1]["event_id"] == recs[4]["event_id"]
    assert recs[4]["params"] == ["19", "15"]


def test_no_multiline_keeps_every_line():
    recs = list(parse_lines(TRACE, LogParser(multiline=False)))
    assert len(recs) == len(TRACE)


def test_loghub_format_presets_split_headers():
    rx = format_regex("hdfs")
    m = rx.match("081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 for "
                 "block blk_1 terminating")
    assert m and m.group("Level") == "INFO" and m.group("Content").startswith("PacketResponder")
    s = LineSplitter("apache")
    s.feed("[Sun Dec 04 04:47:44 2005] [error] mod_jk child workerEnv in error state 6\n")
    ev = s.flush()
    assert ev.fields["Time"] == "Sun Dec 04 04:47:44 2005" and ev.level == "ERROR"
    with pytest.raises(ValueError, match="no <Content>"):
        format_regex("<Date> <Time>")


def test_state_file_resumes_template_ids(tmp_path):
    state = tmp_path / "parse.json"
    first = list(parse_lines(TRACE[:6], LogParser(state=state)))
    assert state.exists()
    second = list(parse_lines(TRACE[6:], LogParser(state=state)))
    assert second[-1]["event_id"] == first[-1]["event_id"]  # "served request" template kept
    assert {r["event_id"] for r in second[1:2]}.isdisjoint({r["event_id"] for r in first})


def test_corrupt_state_file_says_what_to_do(tmp_path):
    state = tmp_path / "parse.json"
    state.write_text("{not json")
    with pytest.raises(ValueError, match="delete it"):
        LogParser(state=state)


def _normal(i: int) -> str:
    return f"2024-01-01 10:00:{i % 60:02d} INFO api: served request {i} in {10 + i % 5} ms\n"


def test_detector_flags_new_error_and_numeric_outlier_not_normal_lines():
    lines = [_normal(i) for i in range(300)]
    lines.insert(200, "2024-01-01 10:05:00 ERROR db: connection refused by 10.0.0.9\n")
    lines.insert(250, "2024-01-01 10:06:00 INFO api: served request 7 in 90000 ms\n")
    recs = list(detect_lines(lines))
    flagged = [r for r in recs if r["anomaly"]]
    assert [r["line"] for r in flagged] == [201, 251]
    assert {"new", "severity", "keyword"} <= set(flagged[0]["types"])
    assert flagged[1]["types"] == ["numeric"] or "numeric" in flagged[1]["types"]
    assert all(r["score"] < 1.0 for r in recs[10:200])


def test_baseline_raises_threshold_to_what_was_ordinary():
    baseline = [_normal(i) for i in range(100)] + [
        "2024-01-01 10:00:00 WARN cache: eviction failed for key 12\n"] * 3
    parser = LogParser()
    det = Detector(DetectorConfig())
    info = det.fit_baseline(r for r in parse_lines(baseline, parser))
    assert info["lines"] == 103 and info["threshold"] >= 1.0
    recs = list(detect_lines(["2024-01-01 11:00:00 WARN cache: eviction failed for key 13\n"],
                             parser, det))
    assert not recs[0]["anomaly"]  # seen in the baseline: ordinary here


def test_burst_of_a_known_template():
    lines = [_normal(i) for i in range(400)]
    lines += [f"2024-01-01 10:0{i % 10}:00 INFO auth: login for user u{i}\n"
              for i in range(3)]
    lines += [_normal(i) for i in range(400)]
    lines += ["2024-01-01 11:00:00 INFO auth: login for user x\n"] * 40
    recs = list(detect_lines(lines))
    assert max(r["signals"]["burst"] for r in recs[-40:]) == 1.0
    assert max(r["signals"]["burst"] for r in recs[:800]) < 1.0


def test_windows_and_pca_baseline_shapes():
    assert windows([False, True, False, False], 2) == [True, False]
    import random

    rng = random.Random(0)
    recs = [{"event_id": f"T{rng.randrange(10)}", "level": "INFO"} for _ in range(2000)]
    recs.append({"event_id": "T99", "level": "FATAL"})
    pytest.importorskip("numpy")
    flags = run_pca(recs)
    assert len(flags) == 2001 and flags[-1] and not any(flags[:2000])
    assert len(run_pca(recs, group=20)) == 101


@pytest.mark.skipif(not BGL.exists(), reason="shared BGL data not present")
def test_bgl_evaluation_runs_all_methods():
    pytest.importorskip("sklearn")
    out = evaluate_detection(BGL / "BGL_first1000.log")
    assert out["lines"] == 1000 and out["anomalies"] == 96
    assert set(out["methods"]) == {"slmkit", "isolation_forest", "pca"}
    assert out["methods"]["slmkit"]["line"]["f1"] > out["methods"]["isolation_forest"]["line"]["f1"]
