"""`slm rag` from the command line (in-process) and a real `slm serve` over loopback:
/v1/rag routes with httpx, and the model rag:COLLECTION through the openai client."""

from __future__ import annotations

import json
import os
import shutil
import uuid

import httpx
import pytest

from conftest import shared_test_home
from helpers.rag_files import FACTS, write_all_formats


def _slm(capsys, *argv) -> tuple[int, str, str]:
    from slmkit.cli.main import main

    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def home(tmp_path, monkeypatch, embedder_ref, onnx_ref):
    """A store that shares the test store's blobs (the embedder) and has its own rag/."""
    h = tmp_path / "home"
    (h / "manifests").mkdir(parents=True)
    os.symlink(shared_test_home() / "blobs", h / "blobs")
    for m in (shared_test_home() / "manifests").glob("*.json"):
        shutil.copy(m, h / "manifests" / m.name)
    monkeypatch.setenv("SLM_HOME", str(h))
    return h


def test_cli_ingest_query_list_eval_drop(home, tmp_path, capsys):
    docs = tmp_path / "docs"
    write_all_formats(docs)
    code, out, _ = _slm(capsys, "rag", "ingest", "kb", str(docs), "--json", "--no-pull",
                        "--threads", "1")
    report = json.loads(out)
    assert code == 0 and len(report["added"]) == len(FACTS) and not report["failed"]
    code, out, _ = _slm(capsys, "rag", "ingest", "kb", str(docs), "--json", "--no-pull")
    assert len(json.loads(out)["unchanged"]) == len(FACTS)
    code, out, _ = _slm(capsys, "rag", "query", "kb", "ticket SUP-5521", "-k", "2", "--json",
                        "--no-pull")
    res = json.loads(out)["results"]
    assert code == 0 and res[0]["source"].endswith("events.jsonl") and res[0]["locator"]
    code, out, _ = _slm(capsys, "rag", "query", "kb", "badge reader", "--mode", "bm25",
                        "--type", "pdf", "--json")
    assert json.loads(out)["results"] == []
    code, out, _ = _slm(capsys, "rag", "list", "--json")
    assert [r["name"] for r in json.loads(out)] == ["kb"]
    qa = tmp_path / "qa.jsonl"
    qa.write_text("\n".join(json.dumps({"question": f, "source": n, "evidence": f.split()[1]})
                            for n, f in FACTS.items()) + "\n")
    code, out, _ = _slm(capsys, "rag", "eval", "kb", "--qa", str(qa), "--json", "--no-pull")
    r = json.loads(out)["retrieval"]
    assert code == 0 and r["n"] == len(FACTS) and r["hit@5"] >= 0.8
    code, out, err = _slm(capsys, "rag", "query", "missing", "x")
    assert code == 1 and "slm rag ingest missing" in err
    code, out, err = _slm(capsys, "rag", "ingest", "../up", str(docs))
    assert code == 2 and "invalid collection name" in err
    assert _slm(capsys, "rag", "drop", "kb")[0] == 0
    assert _slm(capsys, "rag", "drop", "kb")[0] == 1


def test_new_collections_use_the_onnx_embedder_and_old_ones_keep_theirs(home, tmp_path,
                                                                         capsys):
    docs = tmp_path / "docs"
    write_all_formats(docs)
    assert _slm(capsys, "rag", "ingest", "new", str(docs), "--no-pull")[0] == 0
    assert _slm(capsys, "rag", "ingest", "old", str(docs), "--no-pull", "--embedder",
                "all-minilm-l6-v2")[0] == 0
    code, out, _ = _slm(capsys, "rag", "list", "--json")
    assert {r["name"]: r["embedder"] for r in json.loads(out)} == {
        "new": "all-minilm-l6-v2-int8", "old": "all-minilm-l6-v2"}
    for name in ("new", "old"):  # each is queried with the embedder it was built with
        code, out, _ = _slm(capsys, "rag", "query", name, "ticket SUP-5521", "-k", "1",
                            "--json", "--no-pull")
        assert code == 0 and json.loads(out)["results"][0]["source"].endswith("events.jsonl")
    code, _, err = _slm(capsys, "rag", "query", "old", "x", "--embedder",
                        "all-minilm-l6-v2-int8", "--no-pull")
    assert code == 1 and "built with embedder all-minilm-l6-v2 " in err, err


@pytest.fixture(scope="module")
def rag_server(default_model_ref, embedder_ref, corpus, tmp_path_factory):
    """`slm serve` on the shared test store, with a collection copied into its rag/."""
    from serve.conftest import ServerProcess

    name = f"pytest-{uuid.uuid4().hex[:8]}"
    rag = shared_test_home() / "rag"
    rag.mkdir(exist_ok=True)
    shutil.copy(corpus[0] / "rag" / "qa.db", rag / f"{name}.db")
    srv = ServerProcess(["--ctx", "2048", "--threads", "1", "--parallel", "1", "--rag", name],
                        tmp_path_factory.mktemp("rag-serve"), "rag",
                        os.environ.get("SLM_TEST_MODEL_PATH") or default_model_ref.name)
    try:
        srv.wait_ready()
        yield srv, name
    finally:
        srv.stop()
        for suffix in ("", "-wal", "-shm"):
            try:
                os.remove(f"{rag / name}.db{suffix}")
            except FileNotFoundError:
                pass


@pytest.mark.integration
def test_http_routes(rag_server, corpus):
    srv, name = rag_server
    from slmkit.rag.evaluate import load_qa

    item = next(q for q in load_qa(corpus[1].qa_path) if q["kind"] == "identifier")
    with httpx.Client(base_url=srv.url, timeout=120) as http:
        cols = http.get("/v1/rag/collections").json()["data"]
        assert name in [c["name"] for c in cols]
        r = http.post(f"/v1/rag/{name}/query", json={"query": item["question"], "k": 3})
        assert r.status_code == 200
        assert any(item["evidence"] in d["text"] for d in r.json()["data"])
        r = http.post(f"/v1/rag/{name}/ingest", json={"documents": [
            {"name": "new.md", "text": "Widget WX-9981 ships in blue crates."}]})
        assert r.status_code == 200 and r.json()["added"] == ["new.md"]
        r = http.post(f"/v1/rag/{name}/query", json={"query": "WX-9981", "mode": "bm25"})
        assert r.json()["data"][0]["source"] == "new.md"
        assert http.post("/v1/rag/nope/query", json={"query": "x"}).status_code == 404
        assert http.post(f"/v1/rag/{name}/query", json={"query": ""}).status_code == 400
        assert http.post(f"/v1/rag/{name}/query",
                         json={"query": "x", "mode": "fuzzy"}).status_code == 400
        assert http.post("/v1/rag/bad..name/ingest", json={"documents": [
            {"name": "a.txt", "text": "x"}]}).status_code == 400
        assert http.delete("/v1/rag/never-made").status_code == 404
        models = [m["id"] for m in http.get("/v1/models").json()["data"]]
        assert f"rag:{name}" in models


@pytest.mark.integration
def test_chat_with_a_collection_through_openai(rag_server, corpus):
    from openai import NotFoundError, OpenAI

    from slmkit.rag.evaluate import load_qa

    srv, name = rag_server
    client = OpenAI(base_url=srv.url + "/v1", api_key="unused", max_retries=0, timeout=180)
    item = next(q for q in load_qa(corpus[1].qa_path)
                if q["kind"] == "identifier" and "resolution" in q["question"])
    r = client.chat.completions.create(model=f"rag:{name}", temperature=0, max_tokens=32,
                                       messages=[{"role": "user", "content": item["question"]}])
    text = r.choices[0].message.content
    assert "Sources: [" in text and item["source"] in text, text
    with pytest.raises(NotFoundError):
        client.chat.completions.create(model="rag:no-such-collection",
                                       messages=[{"role": "user", "content": "hi"}])
