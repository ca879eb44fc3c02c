"""`slm code doc`: undocumented definitions found with ``ast``, docstrings inserted at the
body's indentation (decorators, comments, CRLF, long lines), the code unchanged (``ast``
without docstrings) and behaving the same, the HTTP route and the real default model."""

from __future__ import annotations

import ast
import json
from contextlib import contextmanager

import pytest
from starlette.testclient import TestClient

from helpers.fake_engine import FakeLocal
from helpers.fake_server import fake_app, one_model
from slmkit.apps.code import patch as P
from slmkit.apps.code.doc import (
    LINE_LIMIT,
    DocError,
    clean,
    document,
    missing,
    model_writer,
    same_code,
)
from slmkit.apps.code.handler import CodeDocApp
from slmkit.serve import routes_apps

SRC = '''import functools


class Box:
    @functools.cache
    def size(self):
        return 1

    def _hidden(self):
        return 2


def one(x): return x


async def fetch(url, timeout=10):
    # comment first
    return url * timeout


def documented():
    """Already here."""
    return 0


def outer(n):
    def inner(m):
        return m + 1
    return inner(n) * 2
'''


def fixed(what: str, source: str) -> str:
    return f"Describe {what.split()[-1]}"


def test_missing_lists_undocumented_public_definitions():
    found, skipped = missing(SRC)
    assert [(m.name, m.kind, m.line) for m in found] == [
        ("Box", "class", 4), ("Box.size", "method", 6), ("fetch", "function", 16),
        ("outer", "function", 26)]
    assert skipped == [{"name": "one", "line": 13, "reason": "its body is on the def line"}]
    assert "Box._hidden" in [m.name for m in missing(SRC, private=True)[0]]


def test_docstrings_go_in_at_the_body_indentation_and_the_code_is_unchanged():
    out = document("m.py", SRC, fixed)
    new = P.apply(SRC, P.parse(out["patch"])[0])
    assert same_code(SRC, new) and out["same_code"]
    tree = ast.parse(new)
    box = tree.body[1]
    assert ast.get_docstring(box) == "Describe Box."
    assert ast.get_docstring(box.body[1]) == "Describe Box.size."  # after the decorator line
    assert '    """Describe Box."""\n    @functools.cache' in new
    assert '        """Describe Box.size."""\n        return 1' in new
    assert ast.get_docstring(tree.body[3]) == "Describe fetch."  # below the comment
    assert [a["name"] for a in out["added"]] == ["Box", "Box.size", "fetch", "outer"]


def test_the_documented_module_behaves_the_same():
    new = P.apply(SRC, P.parse(document("m.py", SRC, fixed)["patch"])[0])
    before, after = {}, {}
    exec(compile(SRC, "old", "exec"), before)  # noqa: S102 - our own test source
    exec(compile(new, "new", "exec"), after)  # noqa: S102
    assert before["outer"](3) == after["outer"](3) == 8
    assert before["Box"]().size() == after["Box"]().size()


def test_long_docstrings_wrap_and_unsafe_text_is_cleaned():
    long = "Return " + "the value of a fairly long computation " * 6
    out = document("m.py", "def f():\n    return 1\n", lambda w, s: long)
    new = P.apply("def f():\n    return 1\n", P.parse(out["patch"])[0])
    assert all(len(line) <= LINE_LIMIT for line in new.splitlines())
    assert ast.get_docstring(ast.parse(new).body[0]).startswith("Return the value")
    assert clean('"""say \\"hi\\" \\\\ here"""') == 'Say /"hi/" // here.'
    assert clean("returns x") == "Returns x."


def test_crlf_files_keep_their_line_endings():
    src = "def f():\r\n    return 1\r\n"
    new = P.apply(src, P.parse(document("m.py", src, fixed)["patch"])[0])
    assert new == 'def f():\r\n    """Describe f."""\r\n    return 1\r\n'


def test_a_file_that_does_not_parse_is_refused_and_empty_answers_are_skipped():
    with pytest.raises(DocError, match="does not parse"):
        document("m.py", "def f(:\n", fixed)
    out = document("m.py", "def f():\n    return 1\n", lambda w, s: "")
    assert out["patch"] == "" and out["skipped"][0]["reason"] == "the model wrote none"


def test_the_model_writer_reads_the_constrained_json():
    eng = FakeLocal(grammar=True, schema_answer=json.dumps({"docstring": "add two numbers"}))
    out = document("m.py", "def add(a, b):\n    return a + b\n", model_writer(eng))
    assert out["added"][0]["docstring"] == "Add two numbers."
    assert eng.requests[0].json_schema["required"] == ["docstring"]


def test_doc_over_http():
    eng = FakeLocal(grammar=True, schema_answer=json.dumps({"docstring": "Do it."}))

    @contextmanager
    def engines(model):
        yield eng

    app, _ = fake_app(one_model(), routers=[routes_apps.router],
                      state={"apps": {"code/doc": CodeDocApp(engines)}})
    with TestClient(app, base_url="http://127.0.0.1:8000") as c:
        r = c.post("/v1/apps/code/doc", json={"text": "def f():\n    pass\n", "path": "f.py"})
        assert r.status_code == 200, r.text
        assert '+    """Do it."""' in r.json()["patch"]
        assert c.post("/v1/apps/code/doc", json={"text": "def (:"}).status_code == 400


@pytest.mark.integration
def test_doc_on_the_real_model_keeps_the_code(engine):
    src = "def area(w, h):\n    return w * h\n"
    out = document("m.py", src, model_writer(engine, max_tokens=48))
    if out["patch"]:  # a 135M model may write nothing usable: then it is skipped, not added
        assert same_code(src, P.apply(src, P.parse(out["patch"])[0]))
    for a in out["added"]:
        assert '"""' not in a["docstring"] and a["docstring"].endswith((".", "!", "?"))
    assert len(out["added"]) + len(out["skipped"]) == 1
