"""`slm code review`: deterministic checks at exact lines, diffs parsed and applied like
`git apply`, model findings verified (line in range, quoted code verbatim) with a scripted
fake, the HTTP route, and one run on the real default model."""

from __future__ import annotations

import ast
import json
import warnings
import shutil
import subprocess
from contextlib import contextmanager

import pytest
from starlette.testclient import TestClient

from helpers.fake_engine import FakeLocal
from helpers.fake_server import fake_app, one_model
from slmkit.apps.code import patch as P
from slmkit.apps.code.checks import python_checks
from slmkit.apps.code.handler import CodeReviewApp
from slmkit.apps.code.review import Target, disk_reader, from_diff, from_file, load, review, verify
from slmkit.serve import routes_apps

warnings.filterwarnings("ignore", category=SyntaxWarning)  # BAD's `is "a"` is the point
BAD = '''import os
import sys, json


def add(item, bucket=[]):
    bucket.append(item)
    return bucket


def load(path):
    try:
        return json.load(open(path))
    except:
        return None


def check(x):
    if x == None:
        return 1
    if x is "a":
        return 2
    return sys.argv
'''
OLD = "def f(x):\n    return x\n\n\ndef g():\n    return 1\n"
NEW = "def f(x):\n    if x == None:\n        return 0\n    return x\n\n\ndef g():\n    return 1\n"


def test_checks_find_each_planted_bug_at_its_exact_line():
    got = {(f.rule, f.line) for f in python_checks("bad.py", BAD)}
    assert got == {("unused-import", 1), ("mutable-default", 5), ("bare-except", 13),
                   ("none-compare", 18), ("is-literal", 20)}


def test_a_syntax_error_is_one_finding_at_its_line():
    [f] = python_checks("x.py", "def f(:\n    pass\n")
    assert (f.rule, f.line, f.severity) == ("syntax-error", 1, "error")


def test_used_imports_and_reexports_are_not_reported():
    text = "import os\nfrom a import b\n__all__ = ['b']\nprint(os.path)\n"
    assert python_checks("m.py", text) == []


def test_mechanical_fixes_become_patches_that_apply_and_parse(tmp_path):
    report = review(None, [from_file("bad.py", BAD)])
    by_rule = {f["rule"]: f for f in report["findings"]}
    for rule in ("unused-import", "bare-except", "none-compare"):
        diff = by_rule[rule]["patch"]
        fixed = P.apply(BAD, P.parse(diff)[0])
        ast.parse(fixed)
    assert "except Exception:" in P.apply(BAD, P.parse(by_rule["bare-except"]["patch"])[0])
    assert by_rule["mutable-default"]["patch"] is None  # no mechanical fix offered
    if shutil.which("git"):  # the same patch through git itself
        (tmp_path / "bad.py").write_text(BAD)
        (tmp_path / "fix.diff").write_text(by_rule["bare-except"]["patch"])
        subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
        subprocess.run(["git", "-C", str(tmp_path), "apply", "--check", "fix.diff"], check=True)


def test_a_diff_round_trips_and_a_wrong_context_does_not_apply():
    diff = P.unified("m.py", OLD, NEW)
    assert P.looks_like_diff(diff)
    [fd] = P.parse(diff)
    assert fd.path == "m.py" and P.apply(OLD, fd) == NEW
    with pytest.raises(P.PatchError, match="does not apply"):
        P.apply(OLD.replace("return x", "return y"), fd)
    with pytest.raises(P.PatchError, match="no unified diff"):
        P.parse("just text")


def test_a_diff_is_reviewed_on_its_added_lines_with_the_file_from_disk(tmp_path):
    (tmp_path / "m.py").write_text(OLD)  # the diff is not applied yet: it is applied in memory
    diff = P.unified("m.py", OLD, NEW)
    [src] = from_diff(diff, disk_reader(tmp_path))
    assert src.text == NEW and src.changed == {2, 3}
    [t] = src.targets
    assert (t.first, t.last) == (1, 6)  # 3 lines of context after the change
    report = review(None, [src])
    assert [(f["rule"], f["line"]) for f in report["findings"]] == [("none-compare", 2)]
    (tmp_path / "m.py").write_text(NEW)  # already applied: the file is taken as it is
    assert from_diff(diff, disk_reader(tmp_path))[0].text == NEW


def test_load_reads_a_diff_from_stdin_and_refuses_plain_stdin(tmp_path):
    diff = P.unified("m.py", OLD, NEW)
    assert load("-", diff, tmp_path)[0].path == "m.py"
    with pytest.raises(ValueError, match="no unified diff"):
        load("-", "print(1)\n")
    with pytest.raises(ValueError, match="cannot read"):
        load(str(tmp_path / "missing.py"))


TARGET = Target("a.py", "function f", [(10, " ", "def f(xs):"), (11, " ", "    best = xs[0]"),
                                       (12, " ", "    return best")])


@pytest.mark.parametrize("item, line, why", [
    ({"line": 11, "code": "best = xs[0]"}, 11, ""),
    ({"line": 12, "code": "best = xs[0]"}, 11, ""),  # one line off: moved
    ({"line": 11, "code": "  11 | best = xs[0]"}, 11, ""),  # its line number copied along
    ({"line": 12, "code": "def f(xs):\n    best = xs[0]"}, 10, ""),  # several lines
    ({"line": 40, "code": "best = xs[0]"}, None, "outside"),
    ({"line": 11, "code": "best = xs[1]"}, None, "not in the reviewed lines"),
    ({"line": 11, "code": ""}, None, "no code"),
])
def test_model_findings_are_verified_against_the_reviewed_lines(item, line, why):
    f, reason = verify({"severity": "error", "message": "m", "fix": "", **item}, TARGET)
    assert (f.line if f else None) == line
    assert why in reason


def scripted(findings):
    return FakeLocal(grammar=True, schema_answer=json.dumps({"findings": findings}))


def test_invented_findings_are_dropped_and_a_bad_fix_gets_no_patch():
    text = "def half(n):\n    return n / 3\n"
    eng = scripted([
        {"line": 2, "severity": "error", "message": "divides by 3, not 2",
         "code": "return n / 3", "fix": "return n / 2"},
        {"line": 2, "severity": "error", "message": "invented", "code": "n.frobnicate()",
         "fix": ""},
        {"line": 1, "severity": "info", "message": "prose fix", "code": "def half(n):",
         "fix": "Add a docstring to it."}])
    report = review(eng, [from_file("h.py", text)])
    good, prose = report["findings"][1], report["findings"][0]
    assert (good["line"], good["source"], good["verified"]) == (2, "model", True)
    assert "return n / 2" in P.apply(text, P.parse(good["patch"])[0])
    assert prose["patch"] is None  # "Add a docstring to it." does not parse as the line
    assert [d["message"] for d in report["dropped"]] == ["invented"]
    assert report["calls"]["calls"] == 1


def test_not_json_from_the_model_is_no_finding():
    eng = FakeLocal(grammar=True, schema_answer="I think it is fine.")
    report = review(eng, [from_file("h.py", "x = 1\n")])
    assert report["findings"] == [] and report["dropped"] == []


def engines_of(engine):
    @contextmanager
    def engines(model):
        yield engine
    return engines


def test_review_over_http():
    app, _ = fake_app(one_model(), routers=[routes_apps.router],
                      state={"apps": {"code/review": CodeReviewApp(engines_of(scripted([])))}})
    diff = P.unified("m.py", OLD, NEW)
    with TestClient(app, base_url="http://127.0.0.1:8000") as c:
        r = c.post("/v1/apps/code/review", json={"diff": diff, "files": {"m.py": OLD}})
        assert r.status_code == 200, r.text
        assert [f["line"] for f in r.json()["findings"]] == [2]
        r = c.post("/v1/apps/code/review", json={"text": BAD, "path": "bad.py",
                                                 "checks_only": True})
        assert len(r.json()["findings"]) == 5
        r = c.post("/v1/apps/code/review", json={"text": "x", "diff": diff})
        assert r.status_code == 400 and "exactly one" in r.text


@pytest.mark.integration
def test_review_on_the_real_model_reports_only_verified_findings(engine):
    text = "def load(path):\n    try:\n        return open(path).read()\n    except:\n" \
        "        return None\n"
    src = from_file("l.py", text)
    report = review(engine, [src], max_tokens=96)  # short: a busy CI machine decodes slowly
    assert report["calls"]["calls"] == len(src.targets) == 1
    assert [(f["rule"], f["line"]) for f in report["findings"] if f["source"] == "check"] \
        == [("bare-except", 4)]
    for f in report["findings"]:  # whatever the model said survived verification
        assert f["code"].split("\n")[0].strip() in text and 1 <= f["line"] <= 5, f
        if f["patch"]:
            ast.parse(P.apply(text, P.parse(f["patch"])[0]))


def test_cli_review_of_a_diff_on_stdin_without_the_model(tmp_path, monkeypatch, capsys):
    import io

    from slmkit.cli.main import main

    (tmp_path / "m.py").write_text(OLD)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sys.stdin", io.StringIO(P.unified("m.py", OLD, NEW)))
    assert main(["code", "review", "-", "--no-model", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [(f["path"], f["line"], f["rule"]) for f in out["findings"]] == [
        ("m.py", 2, "none-compare")]
    assert out["model"] is None
    assert main(["code", "review", "m.py", "--no-model"]) == 0
    assert "0 finding(s) in 2 reviewed part(s)" in capsys.readouterr().out
