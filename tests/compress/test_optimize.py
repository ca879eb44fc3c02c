"""`slm optimize` on a tiny random model: budgets parse and check, a too-tight budget is
refused with the numbers, a loose one registers the smallest passing candidate."""

from __future__ import annotations

import json

import pytest

from helpers.tiny_models import CORPUS, build_model
from slmkit.compress.optimize import Budget, BudgetError, Candidate, optimize, split_data
from slmkit.compress.pareto import pareto_front
from slmkit.models.store import Store

LADDER = [Candidate("Q8_0"), Candidate("Q4_0"), Candidate("Q4_0", True)]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    import torch

    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("opt")
    st = Store(root / "home")
    st.add(build_model(root / "tiny-hf", seed=3), "tiny-hf", method="test", kind="directory")
    data = root / "text.txt"
    data.write_text("\n".join(CORPUS * 3))
    mp = pytest.MonkeyPatch()
    mp.setenv("SLM_CACHE_HOME", str(root / "cache"))
    mp.setenv("SLM_DATA_HOME", str(root / "data"))
    yield st, data, root
    mp.undo()


def _run(setup, budget: str, out: str, **kw):
    st, data, root = setup
    return optimize("tiny-hf", Budget.parse(budget), data=str(data), store=st,
                    candidates=LADDER, chunks=3, chunk=64, speed=False, threads=1,
                    out_dir=root / out, **kw)


def test_budget_parse_and_check():
    b = Budget.parse("kld<=0.05, acc_drop<=1,top1>=0.9")
    assert str(b) == "kld<=0.05,acc_drop<=1,top1>=0.9" and b.get("kld") == 0.05
    assert b.check({"kld_mean": 0.01, "acc_drop": 0.5, "top1_agreement": 0.95}) == []
    failed = b.check({"kld_mean": 0.2, "acc_drop": 0.5, "top1_agreement": 0.95})
    assert len(failed) == 1 and failed[0].startswith("kld<=0.05 (got 0.2")
    assert len(b.check({"kld_mean": 0.01})) == 2  # not measured → fails
    for bad in ("kld=0.1", "speed<=3", "", "kld<=x"):
        with pytest.raises(ValueError):
            Budget.parse(bad)


def test_pareto_front_and_split():
    rows = [{"size_mb": 10, "kld_mean": 0.01}, {"size_mb": 5, "kld_mean": 0.05},
            {"size_mb": 6, "kld_mean": 0.06}, {"size_mb": 4, "kld_mean": 0.2}]
    assert pareto_front(rows) == [0, 1, 3]
    calib, ev = split_data("a\n" * 300)
    assert calib and ev and calib + ev == "a\n" * 300


def test_too_tight_budget_is_refused_with_numbers(setup):
    st, _, root = setup
    with pytest.raises(BudgetError) as err:
        _run(setup, "kld<=1e-9", "tight")
    msg = str(err.value)
    assert "no candidate of tiny-hf passes the budget kld<=1e-09" in msg
    for label in ("Q8_0", "Q4_0", "Q4_0+awq"):
        assert f"| {label} |" in msg
    report = json.loads((root / "tight" / "report.json").read_text())
    assert report["chosen"] is None and len(report["rows"]) == 4
    assert all(r["kld_mean"] > 0 for r in report["rows"][1:])
    assert (root / "tight" / "pareto.png").stat().st_size > 1000
    assert not st.has("tiny-opt")


def test_loose_budget_registers_smallest_passing(setup):
    st, _, root = setup
    report = _run(setup, "kld<=10,top1>=0.01", "loose", name="tiny-best")
    rows = report["rows"]
    ref, q8, q4, q4a = rows
    assert ref["type"] == "F32" and ref["kld_mean"] < 1e-6  # the reference against itself
    assert q8["kld_mean"] < q4["kld_mean"]  # more bits, closer
    assert q8["size_bytes"] > q4["size_bytes"]
    assert abs(q4["size_bytes"] - q4a["size_bytes"]) < 0.01 * q4["size_bytes"]  # metadata only
    assert report["chosen"] in ("Q4_0", "Q4_0+awq")
    man = st.manifest("tiny-best")
    assert man["parent"] == "tiny-hf"
    assert man["method"].startswith("quantize:Q4_0") and "optimize(kld<=10" in man["method"]
    md = (root / "loose" / "report.md").read_text()
    assert "chosen: **" in md and "pareto.png" in md


def test_cli_refusal_exits_nonzero(setup, monkeypatch, capsys):
    from slmkit.cli.main import main

    st, data, root = setup
    monkeypatch.setenv("SLM_HOME", str(st.root))
    rc = main(["optimize", "tiny-hf", "--budget", "kld<=1e-9", "--data", str(data),
               "--types", "Q8_0", "--calibrated", "", "--chunks", "2", "--chunk", "64",
               "--no-speed", "--threads", "1", "--out", str(root / "cli"), "--json"])
    got = json.loads(capsys.readouterr().out)
    assert rc == 1 and got["error"]["error"] == "budget_not_met"
    assert [r["label"] for r in got["rows"]] == ["F32 (reference)", "Q8_0"]
    assert got["rows"][1]["failed"][0].startswith("kld<=1e-09")
