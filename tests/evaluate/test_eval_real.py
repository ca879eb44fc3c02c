"""Evaluation sanity on the real default model: perplexity on English prose is finite and
plausible and the same on both engines; KLD of a model against itself is 0; a trivially
easy multiple-choice set scores far above chance; the CLI reports JSON."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from helpers.converted import converted  # noqa: E402
from slmkit.evaluate import datasets, kld  # noqa: E402
from slmkit.evaluate.choice import choice_accuracy  # noqa: E402
from slmkit.evaluate.datasets import ChoiceItem  # noqa: E402
from slmkit.evaluate.perplexity import perplexity  # noqa: E402
from slmkit.runtime import load_engine  # noqa: E402

pytestmark = pytest.mark.integration

EASY = [  # completions a 135M model gets right: text scoring, four choices each
    ("The capital of France is", ["Paris", "banana", "seventeen", "purple"]),
    ("Water is made of hydrogen and", ["oxygen", "chocolate", "Tuesday", "guitars"]),
    ("The opposite of hot is", ["cold", "blue", "seven", "table"]),
    ("One, two, three, four,", ["five", "yellow", "mountain", "the"]),
    ("The sun rises in the", ["east", "fork", "piano", "seventy"]),
    ("A baby cat is called a", ["kitten", "carburetor", "spoon", "Monday"]),
    ("Monday, Tuesday,", ["Wednesday", "elephant", "orange", "cloud"]),
    ("The color of grass is", ["green", "loud", "twelve", "Paris"]),
]


@pytest.fixture(scope="module")
def wiki(shared_data) -> str:
    return datasets.load_text(datasets.resolve("wikipedia"))


@pytest.fixture(scope="module")
def torch_engine(default_model_ref):
    import torch

    torch.set_num_threads(2)
    hf = converted(default_model_ref.path, default_model_ref.sha256)["hf"]
    eng = load_engine(str(hf), backend="torch", n_ctx=1024, n_threads=2)
    yield eng
    eng.close()


def test_perplexity_is_plausible_and_engine_independent(engine, torch_engine, wiki):
    a = perplexity(engine, wiki, max_chunks=2)
    b = perplexity(torch_engine, wiki, max_chunks=2)
    assert a.n_scored == b.n_scored == 2 * 255
    assert 5 < a.ppl < 100 and a.ppl_se > 0
    assert b.ppl == pytest.approx(a.ppl, rel=0.01)


def test_kld_of_a_model_against_itself_is_zero(engine, wiki):
    ref = kld.build_reference(engine, wiki, max_chunks=1, top_k=0)
    res = kld.compare(engine, ref)
    assert res.kld_mean < 1e-6 and res.top1_agreement == 1.0
    assert res.delta_ppl == pytest.approx(0.0, abs=1e-3)


def test_trivially_easy_choices_score_far_above_chance(engine):
    items = [ChoiceItem(q, tuple(c), 0) for q, c in EASY]
    res = choice_accuracy(engine, items, mode="text")
    assert res.chance == 0.25 and res.accuracy >= 0.75


def test_eval_cli_json(default_model_path, shared_data, capsys):
    from slmkit.cli.main import main

    assert main(["eval", default_model_path, "--ppl", "wikipedia", "--chunks", "1",
                 "--threads", "2", "--ctx", "1024", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["engine"] == "llamacpp" and out["ppl"]["n_chunks"] == 1
    assert 5 < out["ppl"]["ppl"] < 100 and out["ppl"]["dataset"] == "wikipedia"
