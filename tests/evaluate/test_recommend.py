"""`slm recommend`: the ranking rule on its own, then a real survey of a store."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from slmkit.evaluate.recommend import (
    TASKS,
    Candidate,
    Quality,
    Recommendation,
    choose,
    quality_for,
    task_latency_ms,
)

CHAT = TASKS["chat"]
GIB = 2**30


def measured(model: str, decode: float, quality: float | None) -> Candidate:
    c = Candidate(model, f"/m/{model}.gguf", "llamacpp", memory_bytes=GIB // 2,
                  metrics={"decode_tps": decode, "prompt_512_tps": 10 * decode})
    c.latency_ms = task_latency_ms(CHAT, c.metrics)
    c.quality = Quality(quality, "test") if quality is not None else None
    return c


def test_recorded_quality_wins_over_speed_and_speed_breaks_ties():
    slow_good, fast_bad = measured("good", 20, 0.8), measured("bad", 80, 0.4)
    fast_unknown, faster_unknown = measured("u1", 50, None), measured("u2", 60, None)
    choose(CHAT, [fast_bad, slow_good, fast_unknown, faster_unknown], budget_bytes=GIB,
           max_latency_ms=None)
    assert slow_good.verdict == "chosen" and "beats bad" in slow_good.reason
    assert [c.verdict for c in (fast_bad, fast_unknown, faster_unknown)] == ["candidate"] * 3
    assert "loses to good" in fast_bad.reason

    a, b = measured("a", 30, None), measured("b", 90, None)
    choose(CHAT, [a, b], budget_bytes=GIB, max_latency_ms=None)
    assert b.verdict == "chosen" and a.verdict == "candidate"


def test_latency_limit_excludes_and_nothing_left_is_explained():
    good = measured("good", 20, 0.8)  # 150/200 + 150/20 = 8.25 s per chat answer
    fast = measured("fast", 200, 0.4)
    choose(CHAT, [good, fast], budget_bytes=GIB, max_latency_ms=2000)
    assert good.verdict == "too slow" and "> 2000 ms" in good.reason
    assert fast.verdict == "chosen"

    slow = measured("slow", 20, 0.8)
    rec = Recommendation(CHAT, GIB, 100, choose(CHAT, [slow], budget_bytes=GIB,
                                                   max_latency_ms=100))
    assert rec.chosen is None and "no stored model fits chat" in rec.explain()
    assert "slow:" in rec.explain() and "--max-latency-ms" in rec.explain()


def test_a_derived_model_inherits_its_parents_quality_and_says_so():
    q, note = quality_for("my-q4", "qwen2.5-coder-0.5b-instruct", "code")
    assert q is not None and q.score > 0 and "as its parent" in note
    assert quality_for("unknown-model", None, "rag") == (None, "no quality recorded for this "
                                                               "task")
    q, note = quality_for("smollm2-135m-instruct", None, "rag")
    assert q == quality_for("smollm2-135m-instruct", None, "chat")[0]
    assert "no rag measurement recorded" in note


@pytest.mark.integration
def test_slm_recommend_measures_the_stored_models(default_model_path, tmp_path):
    """A store with the real default model, a copy registered as derived from it, and a
    base model: the two are measured in their own processes, the base one is not."""
    from slmkit.models.store import Store

    store = Store(tmp_path / "home")
    for name, parent in (("smollm2-135m-instruct", None), ("smol-copy", "smollm2-135m-instruct"),
                         ("gemma-3-270m", None)):
        copy = tmp_path / f"{name}.gguf"
        shutil.copy(default_model_path, copy)
        store.add(copy, name, parent=parent, method="copy" if parent else None)
    env = {**os.environ, "SLM_HOME": str(tmp_path / "home")}
    out = subprocess.run([sys.executable, "-m", "slmkit.cli.main", "recommend", "--task",
                          "chat", "--gen", "8", "--json"], env=env, capture_output=True,
                         text=True, timeout=600, check=True)
    rec = json.loads(out.stdout)
    by = {c["model"]: c for c in rec["candidates"]}
    assert by["gemma-3-270m"]["verdict"] == "base model" and not by["gemma-3-270m"]["metrics"]
    for name in ("smollm2-135m-instruct", "smol-copy"):
        assert by[name]["metrics"]["decode_tps"] > 0 and by[name]["latency_ms"] > 0
        assert by[name]["memory_bytes"] > 50 * 2**20
    assert "as its parent smollm2-135m-instruct" in by["smol-copy"]["quality_note"]
    assert rec["chosen"] in ("smollm2-135m-instruct", "smol-copy")
    assert rec["explanation"].startswith(rec["chosen"] + " for chat:")
    from slmkit.models.speeds import FILE, SpeedBook  # the UI's models page shows these

    book = SpeedBook(tmp_path / "home" / FILE).all()
    assert book["smol-copy"]["source"] == "slm recommend" and "gemma-3-270m" not in book
    assert book["smol-copy"]["decode_tps"] == round(by["smol-copy"]["metrics"]["decode_tps"], 2)

    tiny = subprocess.run([sys.executable, "-m", "slmkit.cli.main", "recommend",
                           "--ram-budget", "10M"], env=env, capture_output=True, text=True,
                          timeout=600)
    assert tiny.returncode == 1, tiny.stderr
    assert "no stored model fits chat" in tiny.stdout and "budget 10 MiB" in tiny.stdout
