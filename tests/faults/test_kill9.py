"""Fault injection: SIGKILL a real child process in the middle of a write and check that
what it leaves behind opens cleanly, shows nothing half-written, and that re-running the
same operation completes with the same result as an uninterrupted run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import shared_test_home

pytestmark = pytest.mark.slow

INGEST_CHILD = r"""
import sys
from slmkit.rag.ingest import ingest
from slmkit.rag.store import Collection
from slmkit.runtime.sentence import SentenceEmbedder
home, folder, model = sys.argv[1:4]
emb = SentenceEmbedder(model, name="all-minilm-l6-v2", threads=1)
with Collection("kill", home, create=True) as coll:
    report = ingest(coll, [folder], emb, batch_size=2)
assert not report.failed, report.failed
"""


def _embedder_path() -> str:
    from filelock import FileLock

    from slmkit.models.store import Store

    home = shared_test_home()
    home.mkdir(parents=True, exist_ok=True)
    with FileLock(str(home / ".test-pull.lock")):
        return str(Store(home).pull("all-minilm-l6-v2").path)


def _write_corpus(folder: Path, n: int) -> None:
    folder.mkdir(parents=True)
    for i in range(n):
        paras = [f"Document {i} paragraph {j}: the pump HX-{i}-{j} is serviced by team "
                 f"{(i * 7 + j) % 13} every {j + 3} weeks, and valve V-{i}{j} stays closed "
                 "while the tank drains. " * 3 for j in range(4)]
        (folder / f"doc{i:04d}.txt").write_text("\n\n".join(paras) + "\n")


def _docs(home: Path) -> dict[str, int]:
    """Path -> number of chunks of every document the collection shows."""
    from slmkit.rag.store import Collection

    with Collection("kill", home) as coll:
        rows = coll.conn.execute(
            "SELECT d.path, count(c.id) FROM documents d LEFT JOIN chunks c "
            "ON c.doc_id = d.id GROUP BY d.id").fetchall()
    return {p: n for p, n in rows}


def _run_ingest(home: Path, folder: Path, model: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", INGEST_CHILD, str(home), str(folder), model],
                            env=os.environ.copy())


def _wait_for(cond, proc: subprocess.Popen, timeout: float = 600.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.05)
    return False


def test_sigkill_during_rag_ingest_leaves_a_clean_resumable_collection(tmp_path):
    from slmkit.rag.retrieve import search
    from slmkit.rag.store import Collection, collection_path
    from slmkit.runtime.sentence import SentenceEmbedder

    model = _embedder_path()
    folder = tmp_path / "docs"
    _write_corpus(folder, 120)
    home = tmp_path / "home"
    db = collection_path("kill", home)

    def some_written() -> bool:
        if not db.exists():
            return False
        try:
            return len(_docs(home)) >= 2
        except Exception:  # the child is still creating the schema
            return False

    proc = _run_ingest(home, folder, model)
    try:
        started = _wait_for(some_written, proc)
        assert started and proc.poll() is None, \
            f"ingest ended (rc={proc.poll()}) before it could be killed mid-way"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL

    # reference: an uninterrupted ingest into a fresh collection
    ref_home = tmp_path / "ref"
    ref = _run_ingest(ref_home, folder, model)
    assert ref.wait(timeout=1200) == 0
    expected = _docs(ref_home)
    assert len(expected) == 120

    killed = _docs(home)
    assert 2 <= len(killed) < 120, len(killed)
    for path, n in killed.items():  # no document is visible half-ingested
        assert n == expected[path], (path, n, expected[path])
    emb = SentenceEmbedder(model, name="all-minilm-l6-v2", threads=1)
    with Collection("kill", home) as coll:
        assert coll.integrity_check() == "ok"
        assert search(coll, emb, "which team services the pump", k=3)

    again = _run_ingest(home, folder, model)
    assert again.wait(timeout=1200) == 0
    assert _docs(home) == expected
    with Collection("kill", home) as coll, Collection("kill", ref_home) as rcoll:
        assert coll.integrity_check() == "ok"
        s, r = coll.stats(), rcoll.stats()
        assert (s["documents"], s["chunks"]) == (r["documents"], r["chunks"])
        assert search(coll, emb, "valve stays closed while the tank drains", k=3)


def _slm(home: Path, *args: str, **kw) -> subprocess.Popen:
    env = {**os.environ, "SLM_HOME": str(home)}
    return subprocess.Popen([sys.executable, "-m", "slmkit.cli.main", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def _slm_ok(home: Path, *args: str) -> str:
    proc = _slm(home, *args)
    out, err = proc.communicate(timeout=900)
    assert proc.returncode == 0, f"slm {' '.join(args)} failed: {err}"
    return out


def test_sigkill_during_pull_leaves_no_partial_model(tmp_path):
    import hashlib
    import json

    from helpers.gguf_builder import build_tiny_gguf

    src = build_tiny_gguf(tmp_path / "big.gguf", n_embd=2048, n_layer=16)
    digest = hashlib.sha256(src.read_bytes()).hexdigest()
    home = tmp_path / "home"

    def copying() -> bool:
        return any(p.is_file() and p.stat().st_size > 0 and p.suffix != ".lock"
                   for d in ("tmp", "blobs") for p in (home / d).rglob("*"))

    proc = _slm(home, "pull", str(src), "--name", "big")
    try:
        _wait_for(copying, proc, timeout=600)
        os.kill(proc.pid, signal.SIGKILL)  # mid-copy on a busy machine; the checks hold anyway
    except ProcessLookupError:
        pass
    finally:
        proc.kill()
        proc.communicate(timeout=60)

    listed = json.loads(_slm_ok(home, "list", "--json"))
    for row in listed:  # anything listed is whole
        _slm_ok(home, "verify", row["name"])
    for manifest in (home / "manifests").rglob("*.json") if (home / "manifests").exists() else []:
        data = json.loads(manifest.read_text())
        assert data.get("sha256") in (None, digest), manifest

    out = json.loads(_slm_ok(home, "pull", str(src), "--name", "big", "--json"))
    assert out["name"] == "big"
    _slm_ok(home, "verify", "big")
    from slmkit.models.store import Store

    ref = Store(home).get("big")
    assert hashlib.sha256(Path(ref.path).read_bytes()).hexdigest() == digest
    assert Store(home).manifest("big")["sha256"].removeprefix("sha256:") == digest


VAULT_CHILD = r"""
import sys
from slmkit.guard.vault import Vault
path = sys.argv[1]
vault = Vault("kill9")
for batch in range(10_000):
    for i in range(2000):
        n = batch * 2000 + i
        vault.placeholder("EMAIL", f"user{n}@example.com")
    vault.save(path)
    print(batch, flush=True)
"""


def test_sigkill_during_vault_save_leaves_old_or_new_vault(tmp_path):
    from slmkit.guard.vault import Vault

    path = tmp_path / "vaults" / "kill9.json"
    proc = subprocess.Popen([sys.executable, "-c", VAULT_CHILD, str(path)],
                            stdout=subprocess.PIPE, text=True)
    try:
        for _ in range(4):  # a few whole saves, then kill in the middle of the next ones
            assert proc.stdout.readline(), "the vault child ended early"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.communicate(timeout=60)

    vault = Vault.load(path)  # parses: never a torn file
    n = len(vault)
    assert n >= 4 * 2000 and n % 2000 == 0, n
    for k in range(1, n + 1):  # exactly the entries of one complete save
        assert vault.value(f"<EMAIL_{k}>") == f"user{k - 1}@example.com"
    vault.placeholder("EMAIL", "after@example.com")
    vault.save(path)
    assert len(Vault.load(path)) == n + 1


def test_sigkill_during_quantize_leaves_no_half_model_and_reruns_cleanly(tmp_path):
    """A derivation (here ``slm quantize``) killed mid-write registers nothing, its staging
    directory is swept by the next store operation, and the re-run gives the same file as
    an uninterrupted run."""
    import hashlib
    import json

    from helpers.gguf_builder import build_tiny_gguf
    from slmkit.models.store import Store

    src = build_tiny_gguf(tmp_path / "big.gguf", n_embd=2048, n_layer=16)
    home = tmp_path / "home"
    _slm_ok(home, "pull", str(src), "--name", "base")

    def staging_written() -> bool:
        tmp = home / "tmp"
        return tmp.exists() and any(p.is_file() and p.stat().st_size > 0
                                    for p in tmp.rglob("*"))

    proc = _slm(home, "quantize", "base", "--type", "Q8_0", "--name", "q8", "--threads", "1")
    try:
        assert _wait_for(staging_written, proc, timeout=600), "quantize never started writing"
        os.kill(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    finally:
        proc.kill()
        proc.communicate(timeout=60)

    store = Store(home)
    names = {row["name"] for row in json.loads(_slm_ok(home, "list", "--json"))}
    if "q8" in names:  # the kill came after the manifest was written: then it is whole
        _slm_ok(home, "verify", "q8")
        _slm_ok(home, "rm", "q8")
    assert not store.has("q8")

    _slm_ok(home, "quantize", "base", "--type", "Q8_0", "--name", "q8", "--threads", "1")
    _slm_ok(home, "quantize", "base", "--type", "Q8_0", "--name", "q8-again", "--threads", "1")
    assert list((home / "tmp").iterdir()) == []  # the killed run's staging is gone
    digest = [hashlib.sha256(Path(store.get(n).path).read_bytes()).hexdigest()
              for n in ("q8", "q8-again")]
    assert digest[0] == digest[1]
    assert store.manifest("q8")["parent"] == "base"


def _linked_home(tmp_path: Path) -> Path:
    """A store of its own (rag/, tmp/) that shares the test store's models."""
    import shutil

    home = tmp_path / "served"
    (home / "manifests").mkdir(parents=True)
    os.symlink(shared_test_home() / "blobs", home / "blobs")
    for m in (shared_test_home() / "manifests").glob("*.json"):
        shutil.copy(m, home / "manifests" / m.name)
    return home


def _serve(home: Path, port: int) -> subprocess.Popen:
    env = {**os.environ, "SLM_HOME": str(home)}
    env.pop("SLM_API_KEY", None)
    return subprocess.Popen(
        [sys.executable, "-m", "slmkit.cli.main", "serve", "smollm2-135m-instruct",
         "--port", str(port), "--no-pull", "--threads", "1", "--parallel", "1", "--ctx", "1024"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _ready(url: str, proc: subprocess.Popen) -> None:
    import httpx

    def up() -> bool:
        try:
            return httpx.get(url + "/ready", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    assert _wait_for(up, proc, timeout=300), "slm serve did not become ready"


def test_sigkill_of_slm_serve_during_http_ingest_then_restart(tmp_path):
    """The server itself killed while it ingests documents sent over HTTP: after a restart
    the collection opens, answers queries, shows no half-ingested document, and sending the
    same documents again completes it."""
    import socket
    import threading

    import httpx

    from slmkit.rag.store import Collection

    _embedder_path()  # the embedder is in the shared store
    home, name = _linked_home(tmp_path), "kill9"
    docs = [{"name": f"doc{i:03d}.md", "text": "\n\n".join(
        f"Section {j} of document {i}: pump HX-{i}-{j} is serviced by team {(i + j) % 9} "
        "every few weeks while valve V-{i}{j} stays closed. " * 4 for j in range(4))}
        for i in range(80)]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"

    server = _serve(home, port)
    try:
        _ready(url, server)
        sender = threading.Thread(target=lambda: _post_quietly(url, name, docs), daemon=True)
        sender.start()

        def some_written() -> bool:
            try:
                return len(_docs_named(home, name)) >= 2
            except Exception:  # the schema is still being created
                return False

        assert _wait_for(some_written, server, timeout=600), "ingest never wrote a document"
        os.kill(server.pid, signal.SIGKILL)
    finally:
        server.kill()
        server.wait(timeout=60)
    killed = _docs_named(home, name)
    assert 2 <= len(killed) < len(docs)

    server = _serve(home, port)
    try:
        _ready(url, server)
        listed = httpx.get(url + "/v1/rag/collections", timeout=30).json()["data"]
        assert [c["documents"] for c in listed if c["name"] == name] == [len(killed)]
        hits = httpx.post(f"{url}/v1/rag/{name}/query", timeout=120,
                          json={"query": "which team services pump HX-1-2", "k": 3}).json()
        assert hits["data"]
        report = httpx.post(f"{url}/v1/rag/{name}/ingest", json={"documents": docs},
                            timeout=1800).json()
        assert len(report["unchanged"]) == len(killed) and not report["failed"]
    finally:
        server.terminate()
        server.wait(timeout=60)
    counts = _docs_named(home, name)
    assert len(counts) == len(docs) and len(set(counts.values())) == 1  # all alike, all whole
    with Collection(name, home) as coll:
        assert coll.integrity_check() == "ok"


def _post_quietly(url: str, name: str, docs: list[dict]) -> None:
    import httpx

    try:
        httpx.post(f"{url}/v1/rag/{name}/ingest", json={"documents": docs}, timeout=1800)
    except httpx.HTTPError:
        pass  # the server is killed under this request


def _docs_named(home: Path, name: str) -> dict[str, int]:
    from slmkit.rag.store import Collection

    with Collection(name, home) as coll:
        rows = coll.conn.execute(
            "SELECT d.path, count(c.id) FROM documents d LEFT JOIN chunks c "
            "ON c.doc_id = d.id GROUP BY d.id").fetchall()
    return {path: n for path, n in rows}


ANN_CHILD = r"""
import sys
import numpy as np
from slmkit.rag.ingest import refresh_indexes
from slmkit.rag.store import ChunkRow, Collection
home = sys.argv[1]
rng = np.random.default_rng(int(sys.argv[2]))
with Collection("annkill", home, create=True) as coll:
    coll.bind_embedder("random", 16)
    for i in range(100000):
        v = rng.standard_normal((20, 16)).astype(np.float32)
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        rows = [ChunkRow(f"chunk {j} w{rng.integers(0, 40)} w{rng.integers(0, 40)}", 0, 1,
                         embedding=x.tobytes()) for j, x in enumerate(v)]
        with coll.write():  # new documents, and re-ingests of changed ones (delete + add)
            coll.replace_document(f"doc{rng.integers(0, 60)}", str(i), "text", 0, 1, rows)
        if i % 3 == 0:
            refresh_indexes(coll, min_chunks=100)  # the ANN and the BM25 index files
        if i == 40:
            print("ready", flush=True)
"""


def test_sigkill_during_ingest_leaves_an_ann_index_that_matches_exact_search(tmp_path):
    import numpy as np

    from slmkit.rag import ann, lexical
    from slmkit.rag.retrieve import bm25, dense
    from slmkit.rag.store import Collection

    rng = np.random.default_rng(0)
    for seed in range(3):  # killed at three different moments of writing and saving
        proc = subprocess.Popen([sys.executable, "-c", ANN_CHILD, str(tmp_path), str(seed)],
                                stdout=subprocess.PIPE, text=True, env=os.environ.copy())
        try:
            assert proc.stdout.readline().strip() == "ready", "the writer ended early"
            time.sleep(float(rng.uniform(0.0, 1.0)))
            os.kill(proc.pid, signal.SIGKILL)
        finally:
            proc.kill()
            proc.wait(timeout=60)
        assert proc.returncode == -signal.SIGKILL
        with Collection("annkill", tmp_path) as coll:
            index = ann.AnnCache(min_chunks=100).get(coll)
            stored = {r[0] for r in coll.conn.execute("SELECT id FROM chunks_vec").fetchall()}
            assert {int(k) for k in index.index.keys} == stored
            near = total = 0
            for q in rng.standard_normal((20, 16)).astype(np.float32):
                q = (q / np.linalg.norm(q)).tobytes()
                exact = dense(coll, q, 30)
                cos, tenth = dict(exact), exact[9][1]
                for cid, _ in ann.dense(coll, index, q, 10):
                    assert cid in stored  # never a deleted chunk, whatever the graph walk
                    near += cos.get(cid, -1) >= tenth - 0.02  # in the exact top 10, but for
                    total += 1  # int8 ties
            # HNSW is approximate: after thousands of in-place deletes it misses about one
            # neighbour in 200 here (measured 0.995-1.0 over 12 kills); a stale or half-saved
            # index would miss far more.
            assert near / total >= 0.97, f"recall@10 {near / total:.3f} after the kill"
            lex = lexical.LexCache(min_chunks=100).get(coll)  # and BM25 answers as FTS5 does
            assert len(lex) == len(stored)
            for q in ("w3", "w7 w12", "chunk 5 w30", "w1 w2 w3 w4"):
                want, got = bm25(coll, q, 10), bm25(coll, q, 10, index=lex)
                assert [s for _, s in got] == pytest.approx([s for _, s in want], rel=1e-6)
