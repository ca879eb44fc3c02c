"""End to end on the real default model: a bundle carrying a collection is verified,
installed by the agent, and passes probation with a golden prompt answered from the
collection (``rag:docs`` on the real `slm serve`); a model-only follow-up reuses the
collection without shipping it."""

from __future__ import annotations

import json
import tarfile

import pytest
from helpers.edge_bundles import agent_for, make_keys, rag_home, write_golden

from slmkit.edge import bundle, keys, repo
from slmkit.util.files import sha256_file

pytestmark = [pytest.mark.integration, pytest.mark.slow]

RAG_PROMPT = {"prompt": "What is the plant code word? Answer in one word.",
              "expect": "heliotrope", "rag": "docs", "max_tokens": 12}
PLAIN = {"prompt": "What is the capital of France? Answer in one word.", "expect": "Paris",
         "max_tokens": 8}


def _build(work, home, model, version, **spec):
    from slmkit.edge.bundle import BundleSpec, build
    from slmkit.models.store import Store
    from slmkit.rag.store import snapshot

    out = work / f"v{version}.slmb"
    golden = write_golden(work / f"g{version}.jsonl", [RAG_PROMPT, PLAIN])
    build(BundleSpec(model=model, version=version, name="plant", golden=str(golden),
                     config=str(work / "serve.toml"), rag=["docs"], rag_export=snapshot,
                     **spec), work / "keys/signing.key", out, store=Store(home))
    return out


def test_agent_installs_a_rag_bundle_and_probation_answers_from_it(tmp_path, monkeypatch,
                                                                   default_model_path):
    home = rag_home(tmp_path)
    monkeypatch.setenv("SLM_HOME", str(home))
    priv, pub = make_keys(tmp_path)
    (tmp_path / "serve.toml").write_text("[serve]\nctx = 1024\nparallel = 1\nthreads = 2\n")
    v1 = _build(tmp_path, home, default_model_path, "1.0.0")
    assert bundle.verify(v1, keys.load_public(pub))["rag"]["docs"]["carried"]
    repo.publish(v1, tmp_path / "repo", priv)
    agent = agent_for(tmp_path, tmp_path / "repo", pub)
    outcome = agent.poll_once()
    assert outcome.action == "installed", outcome
    state = json.loads((tmp_path / "device/state.json").read_text())
    assert state["last_probation"]["passed"] == 2, state["last_probation"]
    slot = agent.device.slot_dir(agent.device.current_slot())
    digest = sha256_file(slot / "rag/docs.db")
    assert digest == agent.device.slot_manifest(slot.name)["files"]["rag/docs.db"]["sha256"]

    # a model/config-only follow-up: neither collection nor embedder is shipped again
    v2 = _build(tmp_path, home, default_model_path, "1.0.1", reuse={"rag", "embedders"})
    with tarfile.open(v2) as tar:
        assert not any(n.startswith(("rag/", "embedders/")) for n in tar.getnames())
    repo.publish(v2, tmp_path / "repo", priv)
    outcome = agent.poll_once()
    assert outcome.action == "installed", outcome
    new_slot = agent.device.slot_dir(agent.device.current_slot())
    assert new_slot != slot and sha256_file(new_slot / "rag/docs.db") == digest
