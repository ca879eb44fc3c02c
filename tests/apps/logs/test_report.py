"""apps.logs.report: reading a log, the explain report's text, the evaluation tables."""

from __future__ import annotations

import pytest

from slmkit.apps.logs.detect import detect_lines
from slmkit.apps.logs.explain import ExplainStats
from slmkit.apps.logs.parser import LogParser
from slmkit.apps.logs.report import ExplainReport, eval_text, read_lines


def test_read_lines_names_an_unreadable_file(tmp_path):
    f = tmp_path / "a.log"
    f.write_text("one\ntwo\n")
    assert list(read_lines(str(f))) == ["one\n", "two\n"]
    with pytest.raises(ValueError, match="cannot read .*nope.log"):
        list(read_lines(str(tmp_path / "nope.log")))


def test_detect_lines_flushes_on_idle_and_saves_state(tmp_path):
    state = tmp_path / "s.json"
    lines = ["2024-01-01 10:00:00 INFO a: started\n", None,
             "2024-01-01 10:00:01 INFO a: started\n"]
    recs = list(detect_lines(lines, LogParser(state=str(state))))
    assert [r["line"] for r in recs] == [1, 2] and state.exists()


def test_explain_report_text_and_dict():
    stats = ExplainStats(lines=2000, model_calls=3, cache_hits=1)
    found = [{"line": 7, "types": ["new"], "template": "ERROR x <*>", "explanation": "bad",
              "next_step": "restart", "cached": True, "first_line": 3}]
    report = ExplainReport("m", 2000, found, stats)
    text = report.text().splitlines()
    assert text[0] == "line 7 [new] ERROR x <*> (same as line 3)"
    assert text[1:3] == ["  bad", "  next step: restart"]
    assert text[-1] == "3 model calls for 2000 lines (1.5 per 1,000 lines)"
    assert report.to_dict()["model_calls_per_1000_lines"] == 1.5
    assert "stats" not in report.to_dict()


def test_eval_text_tables():
    m = {"GA": 1.0, "PA": 0.5, "FGA": 0.25, "FTA": 0.125, "lines_per_s": 1000}
    prf = {"precision": 0.5, "recall": 1.0, "f1": 0.667}
    text = eval_text({"parsing": {"HDFS": {"slmkit": m}},
                      "detection": {"anomalies": 3, "lines": 10,
                                    "methods": {"slmkit": {"line": prf, "window": prf}}}})
    assert "HDFS         slmkit   1.000  0.500  0.250  0.125      1000" in text
    assert "anomaly detection on BGL_first1000.log (3 of 10 lines)" in text
    assert "line P/R/F1 0.500/1.000/0.667" in text
