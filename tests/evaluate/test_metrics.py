"""Perplexity, KL-divergence and choice accuracy against hand computations on a fake model
whose distributions are known exactly."""

from __future__ import annotations

import math

import numpy as np
import pytest

from slmkit.core.engine import Capabilities, ModelInfo
from slmkit.evaluate import kld as K
from slmkit.evaluate.choice import build_prompt, choice_accuracy
from slmkit.evaluate.datasets import ChoiceItem
from slmkit.evaluate.perplexity import chunks, nll_stats, perplexity
from slmkit.evaluate.report import eval_markdown

TEXT = ("The river carried spring water from the mountains past the mills and orchards. " * 40)


def _manual_nll(lm, text, chunk, bos=None):
    toks = lm.tokenize(text)
    out = []
    for c in range(len(toks) // chunk):
        piece = toks[c * chunk:(c + 1) * chunk]
        if bos is not None:
            piece[0] = bos
        rows = lm.logprob_rows(piece)
        out += [-rows[i, piece[i + 1]] for i in range(chunk // 2, chunk - 1)]
    return np.array(out)


@pytest.mark.parametrize("with_logits", [True, False])
def test_perplexity_is_llamacpps_method(fake_lm, with_logits):
    lm = fake_lm(with_logits=with_logits)
    res = perplexity(lm, TEXT, chunk=64)
    nll = _manual_nll(lm, TEXT, 64)
    assert res.n_chunks == len(lm.tokenize(TEXT)) // 64 and res.n_scored == len(nll)
    assert res.n_scored == res.n_chunks * 31  # the second half of each chunk, minus the last
    assert res.ppl == pytest.approx(math.exp(nll.mean()), rel=1e-9)
    var = (nll ** 2).mean() - nll.mean() ** 2
    assert res.ppl_se == pytest.approx(res.ppl * math.sqrt(var / (len(nll) - 1)), rel=1e-9)


def test_perplexity_puts_bos_first_in_every_chunk(fake_lm):
    lm = fake_lm(bos=5)
    res = perplexity(lm, TEXT, chunk=32, max_chunks=3)
    assert res.n_chunks == 3
    assert res.ppl == pytest.approx(math.exp(_manual_nll(lm, TEXT, 32, bos=5)[:3 * 15].mean()))
    assert all(p[0] == 5 for p in chunks(lm.tokenize(TEXT), 32, 3, 5))


def test_perplexity_input_errors(fake_lm):
    with pytest.raises(ValueError, match="fewer than one chunk"):
        perplexity(fake_lm(), "short", chunk=64)
    with pytest.raises(ValueError, match="context of at least 512"):
        perplexity(fake_lm(n_ctx=256), TEXT)
    with pytest.raises(ValueError, match="even number"):
        perplexity(fake_lm(), TEXT, chunk=33)


def test_nll_stats_of_a_constant():
    ppl, se, mean = nll_stats(np.full(10, math.log(7.0)))
    assert ppl == pytest.approx(7.0) and se < 1e-12 and mean == pytest.approx(math.log(7.0))


def _exact_kl(ref_lm, lm, text, chunk):
    toks = ref_lm.tokenize(text)
    kls = []
    for c in range(len(toks) // chunk):
        piece = toks[c * chunk:(c + 1) * chunk]
        p = ref_lm.logprob_rows(piece)[chunk // 2:chunk - 1]
        q = lm.logprob_rows(piece)[chunk // 2:chunk - 1]
        kls += list((np.exp(p) * (p - q)).sum(1))
    return np.array(kls)


def test_kld_full_rows_is_exact_and_zero_against_itself(fake_lm):
    ref_lm, lm = fake_lm(seed=1), fake_lm(seed=1, noise=0.3)
    ref = K.build_reference(ref_lm, TEXT, chunk=64, top_k=0)
    assert ref.full
    same = K.compare(ref_lm, ref)
    assert same.kld_mean < 1e-7 and same.top1_agreement == 1.0
    assert same.delta_ppl == pytest.approx(0.0, abs=1e-6)
    res = K.compare(lm, ref)
    exact = _exact_kl(ref_lm, lm, TEXT, 64)
    assert res.exact and res.kld_mean == pytest.approx(exact.mean(), rel=1e-3)
    assert res.kld_p99 == pytest.approx(np.percentile(exact, 99), rel=1e-2)
    nll = _manual_nll(lm, TEXT, 64)
    assert res.ppl == pytest.approx(math.exp(nll.mean()), rel=1e-6)
    assert res.delta_ppl == pytest.approx(res.ppl - res.ppl_reference)
    assert 0 < res.top1_agreement < 1


def test_kld_top_k_is_a_close_lower_bound(fake_lm, monkeypatch):
    monkeypatch.setattr(K, "FULL_ROWS_BUDGET", 0)  # force the top-k form
    ref_lm, lm = fake_lm(seed=2), fake_lm(seed=2, noise=0.3)
    exact = K.compare(lm, K.build_reference(ref_lm, TEXT, chunk=64, top_k=0)).kld_mean
    small = K.compare(lm, K.build_reference(ref_lm, TEXT, chunk=64, top_k=4))
    big = K.compare(lm, K.build_reference(ref_lm, TEXT, chunk=64, top_k=32))
    assert not small.exact and small.top_k == 4
    assert small.kld_mean <= big.kld_mean <= exact * (1 + 1e-6)
    assert big.kld_mean > 0.9 * exact


def test_reference_cache_round_trip(fake_lm, tmp_path, monkeypatch):
    monkeypatch.setenv("SLM_CACHE_HOME", str(tmp_path))
    ref_lm, lm = fake_lm(seed=3), fake_lm(seed=3, noise=0.2)
    opened = []

    def open_ref():
        opened.append(1)
        return ref_lm

    ident = {"reference": {"path": "x"}, "engine": "fake", "data": "d"}
    r1, path, cached = K.cached_reference(open_ref, TEXT, identity=ident, chunk=64)
    r2, path2, cached2 = K.cached_reference(open_ref, TEXT, identity=ident, chunk=64)
    assert (cached, cached2, path == path2, len(opened)) == (False, True, True, 1)
    assert path.parent == tmp_path / "kld"
    assert K.compare(lm, r1).kld_mean == pytest.approx(K.compare(lm, r2).kld_mean, rel=1e-9)
    K.cached_reference(open_ref, TEXT, identity={**ident, "data": "other"}, chunk=64)
    assert len(opened) == 2  # another dataset is another cache entry


def test_kld_needs_the_same_vocabulary(fake_lm):
    ref = K.build_reference(fake_lm(n_vocab=64), TEXT, chunk=64, top_k=0)
    with pytest.raises(Exception, match="vocabularies differ"):
        K.compare(fake_lm(n_vocab=32), ref)


def test_row_quantization_is_fine_grained():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 1000)) * 4
    logp = x - np.log(np.exp(x).sum(1, keepdims=True))
    back = K.dequantize_rows(*K.quantize_rows(logp.astype(np.float32)), full=True)
    assert np.abs(back - logp).max() < 1e-3


def test_choice_prompt_shape():
    items = [ChoiceItem("What is 2+2?", ("3", "4"), 1, "elementary_math"),
             ChoiceItem("Capital of France?", ("Paris", "Rome"), 0)]
    prompt = build_prompt(items[1], items[:1])
    assert prompt == ("The following are multiple choice questions (with answers).\n\n"
                      "What is 2+2?\nA. 3\nB. 4\nAnswer: B\n\n"
                      "Capital of France?\nA. Paris\nB. Rome\nAnswer:")
    assert build_prompt(items[0], []).startswith(
        "The following are multiple choice questions (with answers) about elementary math.")
    assert build_prompt(items[1], [], "text") == "Question: Capital of France?\nAnswer:"


class ScriptedLM:
    """Letter scoring by a rule: prefers the letter ``pick(item)`` for each question."""

    def __init__(self, items, pick):
        self.items, self.pick = items, pick
        self.info = ModelInfo(name="scripted", n_vocab=256, n_ctx=8192,
                              capabilities=Capabilities(logits=True))
        self.seen = []

    def tokenize(self, text, *, add_special=True):
        if text in (" A", " B"):  # the answer letters are single tokens
            return [ord(text[1])]
        return list(text.encode("latin-1"))

    def logits(self, tokens, *, first=0):
        text = bytes(tokens).decode("latin-1")
        self.seen.append(text)
        item = next(i for i in self.items if text.endswith(f"{i.question}\nA. {i.choices[0]}"
                                                           f"\nB. {i.choices[1]}\nAnswer:"))
        row = np.zeros((len(tokens) - first, 256), np.float32)
        row[-1, ord("A") + self.pick(item)] = 5.0
        return row


def test_choice_accuracy_counts_and_uses_shots():
    items = [ChoiceItem(f"Question {n}?", (f"x{n}", f"y{n}"), n % 2) for n in range(12)]
    right = choice_accuracy(ScriptedLM(items, lambda i: i.answer), items)
    assert (right.accuracy, right.n, right.correct, right.chance) == (1.0, 12, 12, 0.5)
    assert right.accuracy_se == 0.0
    wrong = choice_accuracy(ScriptedLM(items, lambda i: 0), items, limit=10)
    assert wrong.n == 10 and wrong.accuracy == 0.5
    assert wrong.accuracy_se == pytest.approx(math.sqrt(0.25 / 10))
    lm = ScriptedLM(items, lambda i: i.answer)
    shot = choice_accuracy(lm, items, shots=2)
    assert shot.n == 10 and shot.shots == 2
    assert all(t.count("Answer:") == 3 and "Question 0?" in t and "Question 1?" in t
               for t in lm.seen)  # two solved examples before each scored question
    with pytest.raises(ValueError, match="shots"):
        choice_accuracy(lm, items, shots=12)


def test_text_mode_scores_whole_answers(fake_lm):
    lm = fake_lm(n_vocab=256)
    items = [ChoiceItem("Say it", ("aaaa", "zz"), 0)]
    res = choice_accuracy(lm, items, mode="text")
    assert res.n == 1 and res.mode == "text"


def test_markdown_report_mentions_every_measure():
    report = {"model": "m", "engine": "llamacpp",
              "ppl": {"dataset": "wikipedia", "n_chunks": 2, "chunk": 512, "n_scored": 510,
                      "ppl": 12.3456, "ppl_se": 0.5, "tokens_per_second": 300.0},
              "kld": {"dataset": "wikipedia", "reference": "r@llamacpp", "n_chunks": 2,
                      "n_scored": 510, "exact": True, "top_k": 49152, "kld_mean": 0.0012,
                      "kld_se": 0.0001, "kld_median": 0.001, "kld_p99": 0.01, "kld_max": 0.1,
                      "top1_agreement": 0.97, "top1_se": 0.01, "ppl": 12.3, "ppl_se": 0.5,
                      "ppl_reference": 12.2, "delta_ppl": 0.1, "ln_ppl_ratio": 0.008,
                      "ln_ppl_ratio_se": 0.002},
              "choice": [{"dataset": "mmlu", "shots": 5, "mode": "letter", "accuracy": 0.3,
                          "accuracy_se": 0.02, "correct": 30, "n": 100, "chance": 0.25}]}
    md = eval_markdown(report)
    for needle in ("PPL = **12.3456 ± 0.5000**", "| mean KLD | 0.0012", "97.00%",
                   "| ΔPPL | +0.1000 |", "30.0% ± 2.0%", "5-shot", "full rows, exact"):
        assert needle in md
