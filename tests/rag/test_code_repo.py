"""`slm code ask`: code cut on function/class boundaries, the repository walk (excludes,
.gitignore), symbol headers, incremental re-indexing, a query by function name finding its
definition first (real embedder), the HTTP handler's refusal of unindexed folders, and one
answer on the real default model with citations checked."""

from __future__ import annotations

from contextlib import contextmanager

import pytest

from slmkit.formats.code import units
from slmkit.rag.code import collection_name, code_chunks, ingest_repo, parse_header, repo_files
from slmkit.rag.code_ask import CodeAskApp, CodeRetriever, ask_repo, symbol_terms
from slmkit.rag.store import Collection, CollectionNotFoundError

PY = '''"""Settings."""
import json

DEFAULTS = {"port": 8080}


def parse_config(path):
    with open(path) as f:
        return json.load(f)


class Store:
    """Blobs on disk."""

    root = "/tmp"

    def pull(self, name):
        return self.root + "/" + name

    def drop(self, name):
        return None
'''
JS = '''import x from "y";
const limit = 3;
function retryFetch(url, times) {
  if (times > 0) { return "}"; }
  return url;
}
class Queue {
  push(item) { return item; }
}
'''
FILES = {
    "src/app/config.py": PY,
    "src/app/queue.js": JS,
    "src/app/network.py": "def send_packet(sock, data):\n    return sock.send(data)\n\n\n"
                          "def close_socket(sock):\n    sock.close()\n",
    "src/app/math_utils.py": "def clamp(v, lo, hi):\n    return max(lo, min(v, hi))\n",
    "README.md": "# App\n\nThe app reads its settings with parse_config.\n",
    "node_modules/lib/index.js": "function hidden() { return 1; }\n",
    ".venv2/pyvenv.cfg": "home = /usr\n",
    "env2/pyvenv.cfg": "home = /usr\n",
    "env2/lib/site.py": "def venv_code():\n    pass\n",
    "build/out.py": "x = 1\n",
    "secret/keys.py": "KEY = 1\n",
    "logo.png": "not really",
    "data.bin.py": "\0\0\0",
}


def make_repo(root):
    for rel, text in FILES.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    (root / ".gitignore").write_text("# comment\nsecret/\n*.log\n")
    return root


def test_python_units_follow_functions_classes_and_methods():
    got = [(u.symbol, u.kind, u.start, u.end) for u in units("c.py", PY)]
    assert got == [("<module>", "module", 1, 4), ("parse_config", "function", 7, 9),
                   ("Store", "class", 12, 15), ("Store.pull", "method", 17, 18),
                   ("Store.drop", "method", 20, 21)]


def test_brace_units_ignore_braces_in_strings():
    got = [(u.symbol, u.kind, u.start, u.end) for u in units("q.js", JS)]
    assert got == [("<module>", "module", 1, 2), ("retryFetch", "function", 3, 6),
                   ("Queue", "class", 7, 9)]


def test_a_file_that_does_not_parse_is_cut_in_windows():
    text = "def broken(:\n" + "x = 1\n" * 130
    assert [(u.kind, u.start, u.end) for u in units("b.py", text)] == [
        ("block", 1, 60), ("block", 61, 120), ("block", 121, 131)]


def test_the_walk_skips_venvs_vendored_ignored_and_other_files(tmp_path):
    root = make_repo(tmp_path)
    got = sorted(p.relative_to(root).as_posix() for p in repo_files(root))
    assert got == ["README.md", "data.bin.py", "src/app/config.py", "src/app/math_utils.py",
                   "src/app/network.py", "src/app/queue.js"]


def test_chunks_carry_a_symbol_header_and_the_code_lines(embedder):
    chunks = code_chunks("src/app/config.py", PY, embedder)
    pull = next(c for c in chunks if "Store.pull" in c.text)
    assert parse_header(pull.text) == ("method", "app.config.Store.pull", "src/app/config.py")
    assert (pull.line_start, pull.line_end) == (17, 18)
    assert pull.text.split("\n", 1)[1] == "\n".join(PY.splitlines()[16:18])
    long = "def big():\n" + "".join(f"    v{i} = compute({i}, 'x' * {i})\n" for i in range(90))
    pieces = code_chunks("big.py", long, embedder)
    assert len(pieces) > 1 and all(c.n_tokens <= embedder.max_tokens for c in pieces)
    assert all(parse_header(c.text)[1] == "big.big" for c in pieces)
    assert pieces[0].line_start == 1 and pieces[-1].line_end == 91


def test_index_is_incremental_and_a_function_name_finds_its_definition_first(tmp_path,
                                                                           embedder):
    root = make_repo(tmp_path / "repo")
    home = tmp_path / "home"
    with Collection(collection_name(root), home, create=True) as coll:
        first = ingest_repo(coll, root, embedder)
        assert len(first.added) == 5 and [f["path"] for f in first.failed] == [
            str(root / "data.bin.py")]
        retriever = CodeRetriever(coll, embedder)
        for query, symbol in [("what does parse_config return?", "app.config.parse_config"),
                              ("how is Store.pull built", "app.config.Store.pull"),
                              ("where is send_packet", "app.network.send_packet"),
                              ("retryFetch", "app.queue.retryFetch")]:
            top = retriever.retrieve(query, 3)[0]
            assert parse_header(top.text)[1] == symbol, (query, top.text)
            assert top.ranks.get("exact") == 1
        (root / "src/app/math_utils.py").write_text("def clamp(v):\n    return v\n")
        (root / "src/app/network.py").unlink()
        again = ingest_repo(coll, root, embedder)
        assert [p.rsplit("/", 1)[-1] for p in again.updated] == ["math_utils.py"]
        assert [p.rsplit("/", 1)[-1] for p in again.removed] == ["network.py"]
        assert len(again.unchanged) == 3


def test_symbol_terms_skip_stop_words():
    assert symbol_terms("What does Store.pull do with the name?") == ["Store.pull", "name"]


def test_http_ask_refuses_a_folder_nobody_indexed(tmp_path):
    @contextmanager
    def engines(model):
        yield None

    app = CodeAskApp(engines, lambda name: None, home=tmp_path)
    with pytest.raises(CollectionNotFoundError) as err:
        app.run({"question": "q?", "repo": str(tmp_path)})
    assert "slm code ask" in err.value.hint
    with pytest.raises(ValueError, match="required"):
        app.run({"question": "q?"})


def test_http_ask_answers_about_an_indexed_repository_with_checked_citations(tmp_path,
                                                                           embedder):
    from helpers.fake_engine import FakeLocal

    root, home = make_repo(tmp_path / "repo"), tmp_path / "home"
    with Collection(collection_name(root), home, create=True) as coll:
        ingest_repo(coll, root, embedder)
    eng = FakeLocal(n_ctx=4096, answer="It opens the path and returns json.load of it [1].")

    @contextmanager
    def engines(model):
        yield eng

    out = CodeAskApp(engines, lambda name: embedder, home=home).run(
        {"question": "What does parse_config do?", "repo": str(root), "k": 3})
    assert out["object"] == "code.answer" and out["grounded"] and out["cited_by_model"]
    assert [c["cite"] for c in out["citations"]] == ["src/app/config.py:7-9"]
    assert out["index"]["unchanged"] == 5  # refreshed, nothing changed


@pytest.mark.integration
def test_ask_on_the_real_model_cites_checked_lines(tmp_path, embedder, engine):
    root = make_repo(tmp_path / "repo")
    out = ask_repo(engine, embedder, root, "What does parse_config do?", home=tmp_path / "h", k=3,
                   max_tokens=48)
    assert out["sources"][0]["cite"] == "src/app/config.py:7-9"
    assert out["index"]["added"] == 5
    for c in out["citations"]:  # only citations rag/cite.py accepted
        assert c["cite"] in {s["cite"] for s in out["sources"]}
    assert isinstance(out["grounded"], bool) and out["answer"]
