"""LLM-assisted template correction: the verification that guards it, the per-template
cache, its persistence with the parser state, and the CLI flag (a scripted engine stands in
for the model: what matters here is what is asked, what is kept and what is refused)."""

from __future__ import annotations

import json

from helpers.fake_engine import FakeLocal

from slmkit.apps.logs.correct import GRAMMAR, TemplateCorrector, fits, template_regex
from slmkit.apps.logs.evaluate import LabelledLog, pick_examples, run_corrected
from slmkit.apps.logs.parser import LogParser, parse_lines

LINES = [
    "Receiving block blk_1 src: /10.0.0.1:50010 dest: /10.0.0.2:50010",
    "Receiving block blk_2 src: /10.0.0.3:50010 dest: /10.0.0.4:50011",
    "Receiving block blk_3 src: /10.0.0.5:41000 dest: /10.0.0.6:50010",
]
DRAIN = "Receiving block <*> src: <*> dest: <*>"
GOOD = "Receiving block <*> src: /<*>:<*> dest: /<*>:<*>"


def scripted(answer: str) -> FakeLocal:
    return FakeLocal(answer=answer, grammar=True, n_ctx=4096)


def test_template_regex_matches_whole_lines_only():
    rx = template_regex(GOOD)
    assert rx.fullmatch(LINES[0]).groups() == ("blk_1", "10.0.0.1", "50010", "10.0.0.2",
                                               "50010")
    assert fits("Disk <*> at <*> percent", ["Disk sda1  at 91 percent"])  # any spacing
    assert not fits(GOOD, ["Receiving block blk_1 src: 10.0.0.1 dest: /10.0.0.2:1"])
    assert fits("a (<*>) [b]", ["a (x y) [b]"])  # regex metacharacters are literal


def test_accepts_a_correction_that_matches_every_line_and_caches_it():
    engine = scripted(f"Answer: {GOOD}")
    c = TemplateCorrector(engine)
    assert c.correct(DRAIN, LINES) == GOOD
    assert c.correct(DRAIN, LINES) == GOOD  # the cache: no second call
    assert (c.stats.calls, c.stats.accepted, c.stats.cache_hits) == (1, 1, 1)
    req = engine.requests[0]
    assert req.grammar == GRAMMAR and req.sampling.temperature == 0.0
    asked = req.messages[-1].content
    assert DRAIN in asked and all(line in asked for line in LINES)


def test_refuses_a_correction_that_does_not_match_or_drops_the_constants():
    wrong = "Receiving block <*> src: <*>:<*> dest: <*>:<*> size <*>"  # 'size' is not there
    c = TemplateCorrector(scripted(wrong))
    assert c.correct(DRAIN, LINES) == DRAIN
    assert c.stats.rejected == 1
    lazy = TemplateCorrector(scripted("<*> <*>"))  # matches anything, keeps no words
    assert lazy.correct(DRAIN, LINES) == DRAIN and lazy.stats.rejected == 1
    # verified against all the lines it is checked on, not only the examples shown
    c2 = TemplateCorrector(scripted("Receiving block <*> src: /<*>:50010 dest: /<*>:<*>"))
    assert c2.correct(DRAIN, LINES[:2], check=LINES) == DRAIN


def test_parser_uses_persists_and_reuses_corrections(tmp_path):
    state = tmp_path / "state.json"
    engine = scripted(GOOD)
    parser = LogParser(state=state, corrector=TemplateCorrector(engine),
                       sim_th=0.5)
    recs = list(parse_lines(LINES, parser))
    assert recs[-1]["template"] == GOOD
    assert recs[-1]["params"] == ["blk_3", "10.0.0.5", "41000", "10.0.0.6", "50010"]
    saved = json.loads(state.read_text())
    assert saved["corrections"]
    assert all(c["examples"] for c in saved["clusters"])
    calls = len(engine.requests)
    again = scripted("never asked")
    resumed = LogParser(state=state, corrector=TemplateCorrector(again))
    rec = list(parse_lines([LINES[1]], resumed))[0]
    assert rec["template"] == GOOD and not again.requests  # answered from the saved state
    assert calls <= 3  # one call per distinct Drain template


def test_a_line_the_correction_does_not_fit_keeps_drains_template():
    parser = LogParser(corrector=TemplateCorrector(scripted(GOOD)), sim_th=0.5)
    list(parse_lines(LINES, parser))
    odd = "Receiving block blk_9 src: somehost dest: otherhost"
    rec = list(parse_lines([odd], parser))[0]
    assert rec["template"] != GOOD and rec["params"][-2:] == ["somehost", "otherhost"]


def test_run_corrected_scores_against_the_truth_and_counts_calls():
    log = LabelledLog("HDFS", LINES * 2, ["E1"] * 6, [GOOD] * 6)
    out = run_corrected("HDFS", log, TemplateCorrector(scripted(GOOD)))
    assert out["PA"] == 1.0 and out["GA"] == 1.0
    assert out["model_calls"] == 1 and out["changed"] == 1
    assert out["calls_per_1000_lines"] == 1000 / 6


def test_pick_examples_spreads_over_distinct_lines():
    lines = [f"l{i}" for i in range(10)] + ["l0"] * 5
    assert pick_examples(lines, 4) == ["l0", "l3", "l6", "l9"]
    assert pick_examples(["a", "a", "b"], 4) == ["a", "b"]
