"""Distillation on tiny random models: the losses behave, logit distillation lowers the
KL on a held-apart batch, a resumed run reproduces the uninterrupted one bit for bit,
sequence-level distillation trains on llama.cpp teacher answers, and the CLI registers the
result with its lineage."""

from __future__ import annotations

import json
import math
import shutil

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from helpers.prune_models import tiny_setup  # noqa: E402
from slmkit.compress import distill as D  # noqa: E402
from slmkit.compress import train_io  # noqa: E402
from slmkit.compress.train_io import CompressError  # noqa: E402


@pytest.fixture(scope="module", autouse=True)
def _threads():
    torch.set_num_threads(1)


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """(teacher dir, student dir, data file): same tokenizer, different random weights."""
    root = tmp_path_factory.mktemp("distill")
    teacher, data = tiny_setup(root / "t", seed=0)
    student, _ = tiny_setup(root / "s", seed=1)
    return teacher, student, data


def test_kd_losses():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(3, 5, 11, generator=g), torch.randn(3, 5, 11, generator=g) * 2
    for kind in D.LOSSES:
        assert float(D.kd_loss(a, a, kind=kind)) == pytest.approx(0.0, abs=1e-6)
        assert float(D.kd_loss(a, b, kind=kind)) > 0
    assert float(D.kd_loss(a, b, kind="jsd")) <= math.log(2) + 1e-6
    assert float(D.kd_loss(a, b, kind="fkl")) != pytest.approx(float(D.kd_loss(a, b, kind="rkl")))
    # temperature scaling: T² · KL at T
    t2 = float(D.kd_loss(a, b, kind="fkl", temperature=2.0))
    manual = float(D.kd_loss(a / 2, b / 2, kind="fkl")) * 4
    assert t2 == pytest.approx(manual, rel=1e-5)


def test_schedule_and_data_order():
    cfg = D.DistillConfig(max_steps=10, warmup_steps=2, batch_size=3, grad_accum=2)
    assert D.lr_at(0, cfg) == 0.5 and D.lr_at(1, cfg) == 1.0
    assert D.lr_at(2, cfg) == pytest.approx(1.0) and D.lr_at(10, cfg) == pytest.approx(0.0)
    seen = [i for s in range(2) for m in range(2) for i in D.batch_indices(7, s, m, cfg)]
    assert sorted(seen[:7]) == list(range(7))  # one epoch is a permutation
    assert D.batch_indices(7, 1, 1, cfg) == D.batch_indices(7, 1, 1, cfg)


def _load(path):
    fm = train_io.load_float(path)
    return fm.model, fm.tokenizer


def test_logit_distillation_lowers_held_apart_kl(pair, tmp_path):
    teacher, student, data = pair
    cfg = D.DistillConfig(loss="fkl", lr=3e-3, batch_size=4, seq_len=32, max_steps=40,
                          save_every=0, eval_rows=4)
    report = D.distill(str(teacher), str(student), str(data), str(tmp_path / "out"),
                       config=cfg, gguf_type="f32")
    assert report["steps"] == 40
    assert report["after"]["kl"] < 0.6 * report["before"]["kl"]
    lineage = json.loads((tmp_path / "out/final/hf/slm-lineage.json").read_text())
    assert lineage["method"].startswith("distill:logits-fkl")
    assert lineage["data_sha256"] == train_io.file_digest(data)
    # the saved student loads in llama.cpp and gives the trained model's logits
    from slmkit.runtime import load_engine

    eng = load_engine(report["gguf"], n_ctx=128, n_threads=1)
    hf = load_engine(report["hf_dir"], backend="torch", n_ctx=128, n_threads=1)
    try:
        ids = hf.tokenize("The quick brown fox jumps over the lazy dog.")
        a, b = hf.logits(ids), eng.logits(ids)
        assert abs(a - b).max() < 1e-3 * abs(a).max()
    finally:
        eng.close()
        hf.close()


@pytest.mark.parametrize("loss,bf16", [("rkl", False), ("jsd", False), ("fkl", True)])
def test_other_losses_train(pair, loss, bf16):
    teacher, student, data = pair
    t, tok = _load(teacher)
    s, _ = _load(student)
    ex = D.text_examples(tok, data.read_text(), 32)
    train, held = ex.split(4)
    cfg = D.DistillConfig(loss=loss, lr=3e-3, batch_size=4, seq_len=32, max_steps=15,
                          save_every=0, bf16=bf16)

    def divergence():  # the trained divergence, on the held-apart rows
        with torch.no_grad():
            ids, _, _ = held.take(slice(None))
            return float(D.kd_loss(s(input_ids=ids).logits, t(input_ids=ids).logits, kind=loss))

    before = divergence()
    D.train(s, t, train, cfg, None)
    assert divergence() < 0.8 * before


def test_resume_reproduces_the_uninterrupted_run(pair, tmp_path):
    teacher, student, data = pair
    t, tok = _load(teacher)
    ex, _ = D.text_examples(tok, data.read_text(), 32).split(2)
    cfg = D.DistillConfig(lr=1e-3, batch_size=2, grad_accum=2, seq_len=32, max_steps=6,
                          save_every=3, alpha=0.3, temperature=2.0, warmup_steps=2)
    full, _ = _load(student)
    state = D.train(full, t, ex, cfg, tmp_path / "a")
    assert (tmp_path / "a/checkpoints/step-3/state.pt").is_file()
    # an "interrupted" run: only the step-3 checkpoint exists; resume from it
    (tmp_path / "b/checkpoints").mkdir(parents=True)
    shutil.copytree(tmp_path / "a/checkpoints/step-3", tmp_path / "b/checkpoints/step-3")
    resumed, _ = _load(student)
    state_b = D.train(resumed, t, ex, cfg, tmp_path / "b", resume=True)
    assert state_b.step == 6 and [r["loss"] for r in state_b.log] == [r["loss"] for r in state.log]
    for (name, p), q in zip(full.named_parameters(), resumed.parameters()):
        assert torch.equal(p, q), name
    # changed settings are refused instead of silently mixing runs
    other, _ = _load(student)
    with pytest.raises(CompressError, match="settings changed"):
        D.train(other, t, ex, D.DistillConfig(**{**cfg.__dict__, "lr": 5e-4}),
                tmp_path / "b", resume=True)


class _Planted:
    """Unpickling this runs ``os.makedirs(marker)``: what a hostile checkpoint could do."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        import os

        return (os.makedirs, (self.marker,))


def test_resume_refuses_a_checkpoint_that_would_run_code(pair, tmp_path):
    teacher, student, data = pair
    t, tok = _load(teacher)
    ex, _ = D.text_examples(tok, data.read_text(), 32).split(2)
    cfg = D.DistillConfig(lr=1e-3, batch_size=2, grad_accum=1, seq_len=32, max_steps=2)
    where = tmp_path / "run/checkpoints/step-1"
    where.mkdir(parents=True)
    marker = tmp_path / "pwned"
    torch.save({"config": {}, "step": 1, "evil": _Planted(marker)}, where / "state.pt")
    s, _ = _load(student)
    with pytest.raises(CompressError, match="refus"):
        D.train(s, t, ex, cfg, tmp_path / "run", resume=True)
    assert not marker.exists()


def test_logits_refuse_a_different_tokenizer(pair, tmp_path):
    _, student, data = pair
    other, _ = tiny_setup(tmp_path / "spm", pre="spm")
    with pytest.raises(CompressError, match="tokenizers differ"):
        D.distill(str(other), str(student), str(data), str(tmp_path / "o"),
                  config=D.DistillConfig(max_steps=1, seq_len=32))


def test_sequence_distillation_learns_teacher_answers(pair, tmp_path):
    teacher, student, _ = pair
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("Where is Paris?\nTell me about the river.\nWhat do small models do?\n"
                       "Count: 1 2 3\nDescribe the fox.\nWho lives in the town?\n")
    cfg = D.DistillConfig(method="sequence", lr=3e-3, batch_size=2, seq_len=64, max_steps=25,
                          save_every=0, eval_rows=2, max_new_tokens=12)
    report = D.distill(str(teacher), str(student), str(prompts), str(tmp_path / "out"),
                       config=cfg, gguf_type="f32", n_threads=1)
    answers = (tmp_path / "out/teacher-answers.jsonl").read_text().splitlines()
    assert len(answers) >= 5
    assert report["after"]["ce"] < report["before"]["ce"]
    assert "kl" not in report["after"]


def test_cli_registers_with_lineage(pair, tmp_path, monkeypatch, capsys):
    from slmkit.cli.main import main
    from slmkit.models.store import Store

    teacher, student, data = pair
    monkeypatch.setenv("SLM_HOME", str(tmp_path / "home"))
    rc = main(["distill", "--teacher", str(teacher), "--student", str(student), "--data",
               str(data), "--seq-len", "32", "--max-steps", "3", "--save-every", "2",
               "--lr", "1e-3", "--type", "f32", "-o", str(tmp_path / "run"), "--name",
               "tiny-distilled", "--json"])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    assert out["steps"] == 3 and (tmp_path / "run/checkpoints/step-2/state.pt").is_file()
    m = Store(tmp_path / "home").manifest("tiny-distilled")
    assert m["parent"] == out["student"] and "teacher=" in m["method"]
    assert Store(tmp_path / "home").manifest("tiny-distilled-hf")["kind"] == "directory"
    assert (tmp_path / "run/final/hf/config.json").is_file()  # --output kept whole
