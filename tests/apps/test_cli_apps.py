"""`slm summarize` and `slm review` end to end on the real default model: a folder with a
Markdown file, an mbox thread and an empty file (named in the errors, the rest processed);
a Korean contract whose every reported value has verbatim evidence."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import DEFAULT_MODEL, shared_test_home
from helpers.mail_files import mbox_bytes

pytestmark = [pytest.mark.integration, pytest.mark.slow]
CONTRACT = Path(__file__).resolve().parents[2] / "benchmarks" / "data" / "review" / "ko-nda.txt"


def slm(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, SLM_HOME=str(shared_test_home()))
    return subprocess.run([sys.executable, "-m", "slmkit.cli.main", *args, "--no-pull",
                           "--model", DEFAULT_MODEL, "--threads", "1", "--ctx", "2048", "--json"],
                          capture_output=True, text=True, env=env, timeout=900)


def test_summarize_folder_with_mail_and_an_empty_file(tmp_path, default_model_ref):
    (tmp_path / "plan.md").write_text("# Plan\n\nKim will send the report by Friday.\n"
                                      "The budget is 1,200 dollars.\n")
    (tmp_path / "inbox.mbox").write_bytes(mbox_bytes())
    (tmp_path / "empty.txt").write_text("")
    r = slm("summarize", str(tmp_path), "--max-words", "30")
    assert r.returncode == 1, r.stderr  # one file failed, the others were summarized
    out = json.loads(r.stdout)
    assert [e["document"].endswith("empty.txt") for e in out["errors"]] == [True]
    names = sorted(Path(x["document"]).name for x in out["results"])
    assert names == ["inbox.mbox#thread1", "inbox.mbox#thread2", "plan.md"]
    for res in out["results"]:
        assert res["summary"].strip() and res["language"] == "en"
        for fact in res["key_facts"]:  # every key fact is tied to real source text
            assert fact["source"].strip()
    thread = next(x for x in out["results"] if x["document"].endswith("#thread1"))
    assert thread["meta"]["messages"] == 3 and thread["attachments"][0]["name"] == "budget.pdf"
    assert any(a["owner"] == "Kim" for a in thread["action_items"])


def test_review_never_reports_unsupported_values(default_model_ref):
    r = slm("review", str(CONTRACT), "--checklist", "nda")
    assert r.returncode == 0, r.stderr
    [res] = json.loads(r.stdout)["results"]
    text = CONTRACT.read_text(encoding="utf-8")
    assert res["language"] == "ko" and len(res["fields"]) == 7
    for f in res["fields"].values():
        assert f["status"] in ("found", "not_found")
        if f["status"] == "found":
            assert f["evidence"] in text
    assert "unilateral_change" in {x["kind"] for x in res["risks"]}


def test_review_hands_missing_fields_to_the_upstream_masked(tmp_path, default_model_ref):
    """`slm review --upstream`: the fields the local model leaves not found go to a recording
    upstream, and no personal data of the contract (phone, e-mail, resident number, bank
    account) is in any request it receives."""
    from helpers.upstream import Upstream

    source = CONTRACT.with_name("ko-service.txt").read_text(encoding="utf-8")
    doc = tmp_path / "ko-service.txt"
    doc.write_text(source + "\n제9조 (입금 계좌) 대금은 신한은행 110-123-456789 (예금주 "
                   "주식회사 바른데이터)로 입금한다.\n", encoding="utf-8")
    planted = ["010-2345-6789", "minsu.kim@hanbitsoft.co.kr", "850315-1234567",
               "110-123-456789"]
    server = Upstream()
    try:
        r = slm("review", str(doc), "--upstream", server.url, "--upstream-model", "big-model")
        bodies = server.recording.bodies()
    finally:
        server.stop()
    assert r.returncode == 0, r.stderr
    [res] = json.loads(r.stdout)["results"]
    not_found_locally = [n for n, f in res["fields"].items() if f["source"] == "local"
                         and f["status"] == "not_found" and f.get("reason") != "no clause "
                         "matches the field"]
    assert res["upstream_usage"]["calls"] == len(bodies) >= len(not_found_locally) > 0
    assert not [p for p in planted for b in bodies if p in b]  # leak count 0
    assert any("<BANK_ACCOUNT_1>" in b or "<PHONE_1>" in b for b in bodies)


def test_review_eval_scores_a_labelled_folder(tmp_path, default_model_ref):
    """`slm review eval --data DIR`: a contract, a one-field checklist beside it, labels."""
    (tmp_path / "law.yaml").write_text("fields:\n  - name: governing_law\n    question: Which "
                                       "law governs the agreement?\n    keywords: [law]\n")
    (tmp_path / "c.txt").write_text("1. Term. This Agreement runs for two years.\n\n"
                                    "2. Law. This Agreement is governed by the laws of "
                                    "England.\n\n3. Notices. Call 010-2345-6789.\n")
    (tmp_path / "labels.json").write_text(json.dumps({"c.txt": {
        "checklist": "law.yaml", "personal_data": ["010-2345-6789"], "fields": {
            "governing_law": {"value": "the laws of England", "evidence": "laws of England"}}}}))
    r = slm("review", "eval", "--data", str(tmp_path), "--extraction", "free")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["documents"] == 1 and out["hallucinated"] == 0
    assert (out["pii_planted"], out["pii_leaks"]) == (1, 0)  # masked before the upstream
    assert set(out["per_document"]) == {"c.txt"} and out["per_document"]["c.txt"]["fields"] == 1
