"""LLM-assisted template correction: the template built from the model's variables, the
verification that guards it, the per-template cache and its persistence with the parser
state (a scripted engine stands in for the model: what matters here is what is asked, what
is kept and what is refused)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from helpers.fake_engine import FakeLocal

from slmkit.apps.logs.correct import (
    SCHEMA,
    TemplateCorrector,
    fits,
    refine,
    template_regex,
    with_wildcards,
)
from slmkit.apps.logs.evaluate import LabelledLog, pick_examples, run_corrected
from slmkit.apps.logs.parser import LogParser, parse_lines

LINES = [
    "Receiving block blk_1 src: /10.0.0.1:50010 dest: /10.0.0.2:50010",
    "Receiving block blk_2 src: /10.0.0.3:50010 dest: /10.0.0.4:50011",
    "Receiving block blk_3 src: /10.0.0.5:41000 dest: /10.0.0.6:50010",
]
DRAIN = "Receiving block <*> src: <*> dest: <*>"
GOOD = "Receiving block <*> src: <*>:<*> dest: <*>:<*>"
VARIABLES = ["blk_1", "/10.0.0.1:50010", "/10.0.0.2:50010"]


def scripted(variables) -> FakeLocal:
    return FakeLocal(grammar=True, n_ctx=4096,
                     schema_answer=json.dumps({"variables": list(variables)}))


def test_the_template_is_the_first_line_with_its_variables_as_wildcards():
    assert with_wildcards(LINES[0], VARIABLES) == GOOD
    assert with_wildcards("mod_jk child init 1 -2", ["1", "-2"]) == "mod_jk child init <*> <*>"
    assert with_wildcards("CE sym 2, at 0x0b85, mask 0x05", ["2", "0x0b85", "0x05"]) == \
        "CE sym <*>, at <*>, mask <*>"
    # a value is replaced where it stands alone, not inside another word or number
    assert with_wildcards("user 1 took 10 s on a1", ["1"]) == "user <*> took 10 s on a1"
    assert with_wildcards("at 10:30:01 done", ["10:30:01"]) == "at <*> done"  # not a port


def test_refine_keeps_drains_wildcards_and_words():
    drain = "jk2_init() Found child <*> in scoreboard slot 10"
    line = "jk2_init() Found child 6725 in scoreboard slot 10"
    assert refine(drain, line, ["jk2_init()", "10"]) == \
        "jk2_init() Found child <*> in scoreboard slot <*>"  # a word is never a variable
    assert refine("synchronized to <*> stratum 2,", "synchronized to 10.0.0.1, stratum 2,",
                  ["2"]) == "synchronized to <*> stratum <*>,"
    # tokens that do not line up (a line-wide mask joined them): rebuilt from the line
    assert refine("GET <*>", "GET /a b 200", ["/a", "200"]) == "GET <*> b <*>"


def test_template_regex_matches_whole_lines_only():
    rx = template_regex(GOOD)
    assert rx.fullmatch(LINES[0]).groups() == ("blk_1", "/10.0.0.1", "50010", "/10.0.0.2",
                                               "50010")
    assert fits("Disk <*> at <*> percent", ["Disk sda1  at 91 percent"])  # any spacing
    assert not fits(GOOD, ["Receiving block blk_1 src: 10.0.0.1 dest: /10.0.0.2:1"])
    assert fits("a (<*>) [b]", ["a (x y) [b]"])  # regex metacharacters are literal


def test_accepts_a_correction_that_matches_every_line_and_caches_it():
    engine = scripted(VARIABLES)
    c = TemplateCorrector(engine)
    assert c.correct(DRAIN, LINES) == GOOD
    assert c.correct(DRAIN, LINES) == GOOD  # the cache: no second call
    assert (c.stats.calls, c.stats.accepted, c.stats.cache_hits) == (1, 1, 1)
    req = engine.requests[0]
    assert req.json_schema == SCHEMA and req.sampling.temperature == 0.0
    asked = req.messages[-1].content
    assert all(line in asked for line in LINES)


def test_refuses_a_correction_that_does_not_match_every_line():
    missed = TemplateCorrector(scripted(["blk_1"]))  # no new wildcard: Drain's stays
    assert missed.correct(DRAIN, LINES) == DRAIN and missed.stats.unchanged == 1
    # only the port of the first line's destination: too specific for the second line
    c = TemplateCorrector(scripted(["blk_1", "/10.0.0.1:50010", "50010"]))
    assert c.correct(DRAIN, LINES) == DRAIN and c.stats.rejected == 1
    # verified against all the lines it is checked on, not only the examples shown
    c2 = TemplateCorrector(scripted(["blk_1", "/10.0.0.1:50010", "/10.0.0.2:50010"]))
    odd = "Receiving block blk_9 src: somehost dest: otherhost"
    assert c2.correct(DRAIN, LINES[:1], check=[*LINES, odd]) == DRAIN
    assert c2.stats.rejected == 1
    none = TemplateCorrector(FakeLocal(grammar=True, schema_answer="not json"))
    assert none.correct(DRAIN, LINES) == DRAIN


def test_parser_uses_persists_and_reuses_corrections(tmp_path):
    state = tmp_path / "state.json"
    engine = scripted(VARIABLES)
    parser = LogParser(state=state, corrector=TemplateCorrector(engine),
                       sim_th=0.5)
    recs = list(parse_lines(LINES, parser))
    assert recs[-1]["template"] == GOOD
    assert recs[-1]["params"] == ["blk_3", "/10.0.0.5", "41000", "/10.0.0.6", "50010"]
    saved = json.loads(state.read_text())
    assert saved["corrections"]
    assert all(c["examples"] for c in saved["clusters"])
    calls = len(engine.requests)
    again = scripted(["never asked"])
    resumed = LogParser(state=state, corrector=TemplateCorrector(again))
    rec = list(parse_lines([LINES[1]], resumed))[0]
    assert rec["template"] == GOOD and not again.requests  # answered from the saved state
    assert calls <= 3  # one call per distinct Drain template


def test_a_line_the_correction_does_not_fit_keeps_drains_template():
    parser = LogParser(corrector=TemplateCorrector(scripted(VARIABLES)), sim_th=0.5)
    list(parse_lines(LINES, parser))
    odd = "Receiving block blk_9 src: somehost dest: otherhost"
    rec = list(parse_lines([odd], parser))[0]
    assert rec["template"] != GOOD and rec["params"][-2:] == ["somehost", "otherhost"]


def test_run_corrected_scores_against_the_truth_and_counts_calls():
    log = LabelledLog("HDFS", LINES * 2, ["E1"] * 6, [GOOD] * 6)
    out = run_corrected("HDFS", log, TemplateCorrector(scripted(VARIABLES)))
    assert out["PA"] == 1.0 and out["GA"] == 1.0
    assert out["model_calls"] == 1 and out["changed"] == 1
    assert out["calls_per_1000_lines"] == 1000 / 6


def test_pick_examples_spreads_over_distinct_lines():
    lines = [f"l{i}" for i in range(10)] + ["l0"] * 5
    assert pick_examples(lines, 4) == ["l0", "l3", "l6", "l9"]
    assert pick_examples(["a", "a", "b"], 4) == ["a", "b"]


@pytest.mark.slow
@pytest.mark.integration
def test_cli_parse_with_correction_on_the_real_model(tmp_path, default_model_path):
    """`slm logs parse --correct` end to end: one call per template, and every printed
    template is one its line fits (the model's, when verified, else Drain's)."""
    log = tmp_path / "app.log"
    log.write_text("".join(f"worker {i % 3} took {10 + i} ms for job-{i}\n" for i in range(12)))
    state = tmp_path / "state.json"
    r = subprocess.run([sys.executable, "-m", "slmkit.cli.main", "logs", "parse", str(log),
                        "--correct", "--model", default_model_path, "--threads", "2",
                        "--state", str(state)], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    recs = [json.loads(x) for x in r.stdout.splitlines()]
    assert len(recs) == 12 and all(fits(x["template"], [x["content"]]) for x in recs)
    assert "template correction:" in r.stderr and "model calls" in r.stderr
    assert "corrections" in json.loads(state.read_text())
