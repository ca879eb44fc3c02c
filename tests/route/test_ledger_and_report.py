"""The cost ledger, budgets, prices, the report and `slm route report`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from slmkit.core.types import ChatMessage, GenerateRequest
from slmkit.route import Budget, Entry, Ledger, PriceTable, summarize
from slmkit.route.decide import RouteConfig, confidence, extract_tag, judge

SRC = str(Path(__file__).resolve().parents[2] / "src")


def fill(ledger: Ledger) -> None:
    day = 86400
    now = time.time()
    ledger.record(Entry("local", "confident: x", local_prompt_tokens=100,
                        local_completion_tokens=50, local_seconds=0.5, all_remote_cost=0.002,
                        overhead_ms=1.0, ts=now - 2 * day))
    ledger.record(Entry("remote", "low_confidence: y", remote_model="gpt-4o",
                        remote_prompt_tokens=200,
                        remote_completion_tokens=100, remote_cost=0.0015, all_remote_cost=0.0015,
                        masked=3, overhead_ms=3.0, ts=now - day))
    ledger.record(Entry("fallback", "upstream_error: z", local_prompt_tokens=10,
                        local_completion_tokens=5, all_remote_cost=0.0001, ts=now))


def test_summary_shares_costs_and_savings():
    ledger = Ledger()
    fill(ledger)
    s = summarize(ledger.entries())
    assert s["requests"] == 3 and s["routes"] == {"local": 1, "remote": 1, "fallback": 1}
    assert s["escalated_share"] == pytest.approx(1 / 3, abs=1e-3)
    assert s["reasons"] == {"confident": 1, "low_confidence": 1, "upstream_error": 1}
    assert s["remote_cost_usd"] == pytest.approx(0.0015)
    assert s["savings_usd"] == pytest.approx(0.0021) and s["masked_values"] == 3
    assert len(s["by_day"]) == 3 and s["router_overhead_ms"]["p95"] == 3.0


def test_budget_counts_remote_requests_of_the_current_period():
    ledger = Ledger()
    fill(ledger)
    budget = Budget("week", max_requests=2, max_cost=0.001)
    spent = ledger.remote_usage_since(budget.period_start(time.time()) - 7 * 86400)
    assert spent == (1, 300, pytest.approx(0.0015))
    assert budget.exhausted(*spent) == "cost $0.0015/$0.001 per week"
    assert Budget().exhausted(*spent) is None and Budget().unlimited
    with pytest.raises(ValueError, match="budget period"):
        Budget("fortnight")


def test_prices_by_prefix_and_file(tmp_path):
    f = tmp_path / "prices.json"
    f.write_text(json.dumps({"company-llm": [1.0, 2.0]}))
    table = PriceTable.load(f)
    assert table.cost("company-llm", 1_000_000, 500_000) == pytest.approx(2.0)
    assert table.cost("gpt-4o-2024-08-06", 1_000_000, 0) == pytest.approx(2.5)
    assert table.cost("gpt-4o-mini-x", 1_000_000, 0) == pytest.approx(0.15)
    assert table.cost("unknown", 10, 10) == 0.0 and not table.known("unknown")


def test_judge_and_tags():
    cfg = RouteConfig(min_mean_logprob=-1.0, min_token_logprob=-5.0)
    assert judge([-0.1, -0.2], "ok", cfg)[0] is False
    assert judge([-2.0, -2.0], "ok", cfg)[1].startswith("low_confidence: mean")
    assert judge([-0.1, -6.0, -0.1, -0.1, -0.1, -0.1, -0.1], "ok", cfg)[1].startswith(
        "low_confidence: a token")
    assert judge([], "", cfg)[1] == "empty_local_answer"
    assert confidence([-1.0, -3.0]) == {"tokens": 2, "mean_logprob": -2.0, "min_logprob": -3.0,
                                         "perplexity": pytest.approx(7.389, abs=1e-3)}
    req = GenerateRequest(messages=[ChatMessage("user", "#route:REMOTE a"),
                                    ChatMessage("user", "b #route:local")])
    tag, clean = extract_tag(req)
    assert tag == "local" and clean.messages[1].content == "b"
    assert clean.messages[0].content.startswith("#")
    assert extract_tag(GenerateRequest(prompt="plain"))[0] is None
    with pytest.raises(ValueError, match="on_upstream_error"):
        RouteConfig(on_upstream_error="retry")


def test_cli_report_json_table_and_chart(tmp_path):
    path = tmp_path / "ledger.sqlite"
    ledger = Ledger(path)
    fill(ledger)
    ledger.close()
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", ""),
           "NO_COLOR": "1", "COLUMNS": "200"}

    def slm(*args):
        return subprocess.run([sys.executable, "-m", "slmkit.cli.main", "route", "report",
                               "--ledger", str(path), *args], check=False,
                              capture_output=True, text=True, env=env, timeout=120)

    out = slm("--json", "--days", "1.5", "--chart", str(tmp_path / "c.png"))
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["requests"] == 2 and data["chart"] == str(tmp_path / "c.png")
    assert (tmp_path / "c.png").read_bytes()[:4] == b"\x89PNG"
    table = slm()
    assert table.returncode == 0 and "savings" in table.stdout and "$0.0021" in table.stdout
    missing = subprocess.run([sys.executable, "-m", "slmkit.cli.main", "route", "report",
                              "--ledger", str(tmp_path / "none.sqlite")], check=False,
                             capture_output=True, text=True, env=env, timeout=60)
    assert missing.returncode == 2 and "no ledger" in missing.stderr
