"""benchmarks/report.py (what `make bench` prints) on recorded result files: ratios against
the anchors, the change since the previous run of the same setup, and one chart per
benchmark. No timing: only files."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture(scope="module")
def report():
    spec = importlib.util.spec_from_file_location("bench_report", BENCH / "report.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_report"] = module  # its dataclasses look their module up
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop("bench_report", None)


def _serve(date: str, tps8: float, anchor8: float, model: str = "m", rss: float = 800.0) -> dict:
    rows = [{"clients": c, "tokens_per_s": t, "ttft_p95_s": 0.5}
            for c, t in ((1, 20.0), (8, tps8))]
    anchor = [{"clients": c, "tokens_per_s": t, "ttft_p95_s": 0.4}
              for c, t in ((1, 20.0), (8, anchor8))]
    return {"benchmark": "serve", "date": date, "machine": {"busy": True},
            "config": {"model": model, "threads": 1},
            "results": {"slmkit": rows, "llama-server": anchor},
            "peak_rss_mb": {"slmkit": rss, "llama-server": 700.0},
            "ratios": {"tokens_per_s_vs_llama-server@1": 1.0,
                       "tokens_per_s_vs_llama-server@8": round(tps8 / anchor8, 3),
                       "ttft_p95_vs_llama-server@8": 1.25,
                       "peak_rss_vs_llama-server": round(rss / 700.0, 3)}}


def _write(folder: Path, name: str, payload) -> None:
    (folder / name).write_text(json.dumps(payload))


@pytest.fixture
def results(tmp_path):
    _write(tmp_path, "serve-2026-12-01.json", _serve("2026-12-01 10:00", 40.0, 50.0))
    _write(tmp_path, "serve-2026-12-02.json", _serve("2026-12-02 10:00", 10.0, 5.0, model="x"))
    _write(tmp_path, "serve-2026-12-04.json", _serve("2026-12-04 09:30", 60.0, 50.0))
    _write(tmp_path, "other-2026-12-04.json", {"ratios": {"speed": 1.5, "flag": True}})
    _write(tmp_path, "broken-2026-12-04.json", "not a mapping")
    (tmp_path / "torn-2026-12-04.json").write_text("{")
    _write(tmp_path, "undated.json", {"ratios": {"x": 1.0}})
    return tmp_path


def test_latest_run_against_its_anchor_and_the_previous_run_of_the_same_setup(report, results):
    runs = report.load_runs(results)
    assert [r.date for r in runs["serve"]] == ["2026-12-01 10:00", "2026-12-02 10:00",
                                               "2026-12-04 09:30"]
    rows = {r["metric"]: r for r in report.compare(runs["serve"])}
    tps8 = rows["tok/s @8 clients"]
    assert tps8["value"] == 60.0 and tps8["anchor"] == "llama-server"
    assert tps8["anchor_ratio"] == pytest.approx(1.2)
    # compared with 12-01 (same model and threads), not with 12-02 (another model)
    assert tps8["previous"] == 40.0 and tps8["previous_date"] == "2026-12-01 10:00"
    assert tps8["change"] == pytest.approx(1.5) and tps8["verdict"] == "better"
    assert tps8["previous_anchor_ratio"] == pytest.approx(0.8)
    ttft = rows["TTFT p95 s @8"]
    assert ttft["anchor_ratio"] == 1.25 and ttft["verdict"] == "same"  # lower is better
    assert rows["peak RSS MB"]["anchor_ratio"] == pytest.approx(800 / 700, abs=1e-3)
    assert all(r["busy"] for r in rows.values())


def test_verdict_follows_the_direction_of_the_metric(report):
    assert report._verdict(1.2, "higher") == "better"
    assert report._verdict(1.2, "lower") == "worse"
    assert report._verdict(0.97, "lower") == "same"
    assert report._verdict(None, "higher") == "new"


def test_unknown_kinds_report_their_ratios_and_bad_files_are_skipped(report, results):
    runs = report.load_runs(results)
    assert set(runs) == {"serve", "other"}  # broken, torn and undated files are skipped
    rows = report.compare(runs["other"])
    assert [(r["metric"], r["value"]) for r in rows] == [("speed", 1.5)]  # not the bool


def test_main_prints_one_table_and_draws_one_chart_per_benchmark(report, results, capsys):
    pytest.importorskip("matplotlib")
    assert report.main(["--results", str(results)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("| benchmark | run | metric |")
    assert "| serve | 2026-12-04 09:30 (busy) | tok/s @8 clients | 60 | 1.20× llama-server " \
           "| 40 (2026-12-01 10:00) | 1.50× | better |" in out
    charts = sorted(p.name for p in results.glob("chart-*.png"))
    assert charts == ["chart-other.png", "chart-serve.png"]
    assert (results / "chart-serve.png").read_bytes()[:4] == b"\x89PNG"


def test_every_recorded_result_of_a_known_kind_yields_its_metrics(report):
    """The files in benchmarks/results/ (what `make bench` reads) parse with their extractor."""
    runs = report.load_runs(BENCH / "results")
    for series, kind in (("decode", "decode"), ("serve", "serve"), ("speculate", "speculate"),
                         ("cli-startup", "cli-startup")):
        if series not in runs:
            continue
        latest = runs[series][-1]
        assert report.metrics_of(latest), f"{latest.path.name}: no {kind} metrics"
