"""The bundle's fidelity check: the estimate on its own, then a real server against a
reference from the real default model — the same model passes, another one fails."""

from __future__ import annotations

import json
import math
import shutil

import pytest

from slmkit.edge import fidelity
from slmkit.edge.fidelity import Step, compare, partition_kld


def lp(*probs: float) -> dict[str, float]:
    return {f"t{i}": math.log(p) for i, p in enumerate(probs)}


def test_partition_kld_is_zero_for_equal_and_a_lower_bound_otherwise():
    p = lp(0.7, 0.2, 0.05)
    assert partition_kld(p, p) == pytest.approx(0.0, abs=1e-12)
    q = lp(0.4, 0.4, 0.1)
    exact_on_three = sum(math.exp(p[t]) * (p[t] - q[t]) for t in p)
    rest_p, rest_q = 1 - 0.95, 1 - 0.9
    true_kld = exact_on_three + rest_p * math.log(rest_p / rest_q)
    assert partition_kld(p, q) == pytest.approx(true_kld)
    # a token the device does not list joins the "rest": the bound shrinks, stays > 0
    q_missing = {k: v for k, v in q.items() if k != "t2"}
    assert 0 < partition_kld(p, q_missing) <= true_kld + 1e-12


def test_compare_counts_shared_steps_and_the_first_difference():
    same = [Step("a", math.log(0.7), lp(0.7, 0.2)), Step("b", math.log(0.5), lp(0.5, 0.3))]
    assert compare(same, same).kld == pytest.approx(0.0, abs=1e-12)
    assert compare(same, same).dppl_pct == pytest.approx(0.0, abs=1e-9)
    other = [same[0], Step("c", math.log(0.6), lp(0.3, 0.6))]
    got = compare(same, other)
    assert got.diverged_at == 1 and got.steps == 2 and got.kld > 0
    assert got.dppl_pct == pytest.approx(0.0, abs=1e-9)  # only the shared step counts
    worse = [Step("a", math.log(0.35), lp(0.35, 0.2)), same[1]]
    assert compare(same, worse).dppl_pct > 0


def _server(tmp_path, model_path):
    from slmkit.edge.server import ServeProcess

    slot = tmp_path / "slot"
    slot.mkdir(parents=True)
    shutil.copy(model_path, slot / "model.gguf")
    return ServeProcess(slot, {"model": {"path": "model.gguf"},
                               "serve": {"ctx": 512, "threads": 2, "parallel": 1}})


@pytest.mark.integration
def test_the_same_model_passes_and_another_model_fails(tmp_path, default_model_path):
    ref = tmp_path / "fidelity.json"
    ref.write_text(json.dumps(fidelity.reference(default_model_path)))
    limits = {"max_kld": 0.01, "max_dppl_pct": 2.0}
    with _server(tmp_path / "same", default_model_path) as server:
        reason, numbers = fidelity.check(server.base_url, server.wait_ready(), ref, limits)
    assert reason == "", reason
    assert numbers["kld"] < 0.01 and numbers["steps"] >= fidelity.MIN_STEPS

    from helpers.tiny_models import build_model

    from slmkit.convert import hf_to_gguf

    other = hf_to_gguf(build_model(tmp_path / "hf"), tmp_path / "other.gguf")
    with _server(tmp_path / "other", other) as server:
        reason, numbers = fidelity.check(server.base_url, server.wait_ready(), ref, limits)
    assert reason.startswith("fidelity: "), numbers
