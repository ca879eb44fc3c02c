"""Pick the model for this device and a task by measuring the candidates here.

Candidates are the store's language models (pulled or made on this machine). Each is sized
for the task's context with the fit estimate, skipped when it would not fit the RAM budget,
and otherwise measured in a fresh process by :mod:`slmkit.evaluate.speed` (prompt and
decode rates, peak RSS). A task's latency is estimated from those rates and the task's
typical prompt and answer lengths. The choice is the candidate with the best quality
number the project has recorded for the task (a derived model inherits its parent's, and
says so) among those within the latency and RAM limits; ties and unknown quality go to the
faster one. Every candidate keeps its verdict and the reason, so the choice is explained.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from slmkit.core.options import Done, opt
from slmkit.evaluate import speed


@dataclass(frozen=True)
class Task:
    """What a task costs: a typical prompt and answer length (tokens) and the context."""

    name: str
    prompt_tokens: int
    answer_tokens: int
    n_ctx: int


TASKS: dict[str, Task] = {
    "chat": Task("chat", 150, 150, 2048),
    "rag": Task("rag", 1200, 120, 4096),
    "code": Task("code", 300, 200, 4096),
    "summarize": Task("summarize", 1500, 150, 4096),
}


@dataclass(frozen=True)
class Quality:
    """A recorded quality number (0–1, higher is better) and where it comes from."""

    score: float
    source: str


# What the project measured on the offline models (benchmarks/results/, 2026-12-04).
RECORDED: dict[str, dict[str, Quality]] = {
    "qwen2.5-coder-0.5b-instruct": {
        "chat": Quality(0.8, "first contact, greedy: 4 of 5 prompts right (facts, arithmetic, "
                             "code, Korean) — benchmarks/first_contact.py"),
        "code": Quality(0.6, "first contact: 6/10 right on reverse-function at its defaults "
                             "— benchmarks/first_contact.py"),
        "summarize": Quality(0.6, "Korean news: ROUGE-1 0.60× lead-3 (1 article) — "
                                  "benchmarks/summarize.py"),
    },
    "smollm2-135m-instruct": {
        "chat": Quality(0.4, "first contact, greedy: 2 of 5 prompts right; no Korean — "
                             "benchmarks/first_contact.py"),
        "summarize": Quality(0.27, "Korean news: ROUGE-1 0.27× lead-3 (3 articles) — "
                                   "benchmarks/summarize.py"),
    },
}
# Base (not instruction-tuned) models continue text instead of answering: never a pick.
BASE_MODELS = frozenset({"gemma-3-270m"})


@dataclass
class Candidate:
    """One stored model sized and (when it fits) measured for a task."""

    model: str
    path: str
    backend: str
    parent: str | None = None
    memory_bytes: int = 0
    metrics: dict[str, float | None] = field(default_factory=dict)
    latency_ms: float | None = None
    quality: Quality | None = None
    quality_note: str = ""
    verdict: str = "candidate"  # chosen, candidate, too big, too slow, base model, failed
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["quality"] = asdict(self.quality) if self.quality else None
        return d


@dataclass
class Recommendation:
    task: Task
    budget_bytes: int
    max_latency_ms: float | None
    candidates: list[Candidate]

    @property
    def chosen(self) -> Candidate | None:
        return next((c for c in self.candidates if c.verdict == "chosen"), None)

    def explain(self) -> str:
        c = self.chosen
        if c is None:
            return (f"no stored model fits {self.task.name} within the limits: "
                    + "; ".join(f"{x.model}: {x.reason}" for x in self.candidates)
                    + " (pull a smaller model, or raise --ram-budget/--max-latency-ms)")
        return f"{c.model} for {self.task.name}: {c.reason}"

    def to_dict(self) -> dict[str, Any]:
        return {"task": asdict(self.task), "budget_bytes": self.budget_bytes,
                "max_latency_ms": self.max_latency_ms, "explanation": self.explain(),
                "chosen": self.chosen.model if self.chosen else None,
                "candidates": [c.to_dict() for c in self.candidates]}


def task_latency_ms(task: Task, metrics: dict[str, float | None]) -> float | None:
    """Prompt at the measured 512-token prefill rate plus the answer at the decode rate."""
    prefill = metrics.get("prompt_512_tps") or metrics.get("prompt_128_tps")
    decode = metrics.get("decode_tps")
    if not prefill or not decode:
        return None
    return 1000.0 * (task.prompt_tokens / prefill + task.answer_tokens / decode)


def quality_for(model: str, parent: str | None, task: str) -> tuple[Quality | None, str]:
    """The recorded quality of ``model`` (else of its ``parent``, said so) for ``task``;
    without one for ``task``, its general (chat) quality stands in, said so too."""
    for name, note in ((model, ""), (parent, f"as its parent {parent} (derived here; not "
                                             "measured itself)")):
        if name and (q := RECORDED.get(name, {}).get(task)):
            return q, note
    for name in (model, parent):
        if task != "chat" and name and (q := RECORDED.get(name, {}).get("chat")):
            return q, f"no {task} measurement recorded: {name}'s chat score stands in"
    return None, "no quality recorded for this task"


def choose(task: Task, candidates: list[Candidate], *, budget_bytes: int,
           max_latency_ms: float | None) -> list[Candidate]:
    """Set each candidate's verdict and reason; exactly one ``chosen`` when any qualifies."""
    eligible = []
    for c in candidates:
        if c.verdict in ("base model", "failed", "too big"):
            continue
        if max_latency_ms is not None and (c.latency_ms is None or c.latency_ms > max_latency_ms):
            c.verdict = "too slow"
            c.reason = f"{_ms(c.latency_ms)} per {task.name} answer > {max_latency_ms:.0f} ms"
            continue
        eligible.append(c)
    eligible.sort(key=lambda c: (-(c.quality.score if c.quality else -1.0),
                                 c.latency_ms if c.latency_ms is not None else float("inf")))
    for rank, c in enumerate(eligible):
        c.verdict = "chosen" if rank == 0 else "candidate"
        c.reason = _why(c, eligible, budget_bytes)
    return candidates


def _why(c: Candidate, eligible: list[Candidate], budget_bytes: int) -> str:
    quality = (f"quality {c.quality.score:.2f} ({c.quality.source}"
               + (f"; {c.quality_note}" if c.quality_note else "") + ")"
               if c.quality else c.quality_note)
    others = [o for o in eligible if o is not c]
    versus = ""
    if others:
        o = others[0] if c.verdict == "chosen" else eligible[0]
        word = "beats" if c.verdict == "chosen" else "loses to"
        versus = f"; {word} {o.model} ({_ms(o.latency_ms)}"
        versus += f", quality {o.quality.score:.2f})" if o.quality else ", quality unknown)"
    return (f"{_ms(c.latency_ms)} per answer, {(c.metrics.get('decode_tps') or 0):.0f} tok/s "
            f"decode, {c.memory_bytes / 2**20:.0f} MiB of {budget_bytes / 2**20:.0f} MiB; "
            f"{quality}{versus}")


def _ms(value: float | None) -> str:
    return "unmeasured" if value is None else f"{value:.0f} ms"


def stored_candidates(store: Any) -> list[Candidate]:
    """The store's language models (not embedders), with their parent when derived."""
    from slmkit.runtime.detect import detect_backend

    found = []
    for ref in store.list():
        manifest = store.manifest(ref.name)
        if manifest.get("kind", "llm") != "llm":
            continue
        found.append(Candidate(ref.name, ref.path, detect_backend(ref.path),
                               parent=manifest.get("parent")))
    return found


def recommend(task: str, *, store: Any, budget_bytes: int, max_latency_ms: float | None = None,
              threads: int = 0, gen: int = 32, progress: Callable | None = None,
              speeds: Any = None) -> Recommendation:
    """Size, measure and rank the store's models for ``task`` (see the module docstring).
    ``speeds`` (a ``models.speeds.SpeedBook``) records each measured decode rate, so the
    web UI's models page shows it."""
    from slmkit.models.fit import estimate

    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; expected one of {', '.join(TASKS)}")
    shape = TASKS[task]
    candidates = stored_candidates(store)
    if not candidates:
        raise ValueError("the store holds no language model: `slm pull` one first")
    for i, c in enumerate(candidates):
        if progress:
            progress("measure", i, len(candidates))
        _measure(c, shape, budget_bytes, threads, gen, estimate)
        if speeds is not None and c.metrics.get("decode_tps"):
            speeds.record(c.model, c.metrics["decode_tps"], source="slm recommend",
                          tokens=gen, threads=threads or None)
    if progress:
        progress("measure", len(candidates), len(candidates))
    choose(shape, candidates, budget_bytes=budget_bytes, max_latency_ms=max_latency_ms)
    return Recommendation(shape, budget_bytes, max_latency_ms, candidates)


def _measure(c: Candidate, task: Task, budget_bytes: int, threads: int, gen: int,
             estimate: Callable) -> None:
    c.quality, c.quality_note = quality_for(c.model, c.parent, task.name)
    if c.model in BASE_MODELS or c.parent in BASE_MODELS:
        c.verdict, c.reason = "base model", "a base model: it continues text, it does not answer"
        return
    try:
        est = estimate(c.path, n_ctx=task.n_ctx, backend=c.backend)
    except (OSError, ValueError) as err:
        c.verdict, c.reason = "failed", f"cannot size it: {err}"
        return
    c.memory_bytes = est.total
    if est.total > budget_bytes:
        c.verdict = "too big"
        c.reason = (f"needs {est.total / 2**20:.0f} MiB at {task.n_ctx} tokens of context "
                    f"> budget {budget_bytes / 2**20:.0f} MiB")
        return
    config = speed.BenchConfig(c.model, c.path, c.backend, threads, task.n_ctx, gen, 1)
    try:
        c.metrics = speed.run_isolated(config).metrics
    except Exception as err:  # noqa: BLE001 - one model failing must not stop the survey
        c.verdict, c.reason = "failed", str(err)
        return
    c.latency_ms = task_latency_ms(task, c.metrics)


UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


def parse_size(text: str) -> int:
    """``512M``, ``2G``, ``1.5GiB`` or bytes (an argparse type)."""
    import argparse
    import re

    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?\s*", text, re.IGNORECASE)
    if not m:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 512M, 2G)")
    return int(float(m.group(1)) * UNITS[m.group(2).upper()])


def _rate(value: float | None) -> str | None:
    return None if value is None else f"{value:.0f}"


@dataclass
class RecommendRequest:
    """`slm recommend`: measure the stored models here and pick one for ``task``; the table
    of candidates and the reasons (exit code 1 when none qualifies)."""

    PROGRESS = "bars"
    task: str = opt("chat", "what the model will do (sets prompt/answer length, context)",
                    choices=tuple(TASKS))
    max_latency_ms: float | None = opt(None, "longest acceptable time for one answer",
                                       metavar="MS", type=float)
    ram_budget: int | None = opt(None, "memory the model may use (default: 90%% of available "
                                       "RAM)", metavar="SIZE", type=parse_size)
    threads: int = opt(0, "CPU threads (0: the free physical cores)", type=int)
    gen: int = opt(32, "tokens generated per model for the decode rate", type=int)

    def run(self, progress=None) -> Done:
        from slmkit.models import catalog, hardware
        from slmkit.models.speeds import default_book
        from slmkit.models.store import Store

        budget = self.ram_budget or int(catalog.memory_budget(hardware.probe()).bytes * 0.9)
        rec = recommend(self.task, store=Store(), budget_bytes=budget,
                        max_latency_ms=self.max_latency_ms, threads=self.threads,
                        gen=self.gen, progress=progress, speeds=default_book())
        return Done(rec.to_dict(), lambda con: self._show(con, rec), 0 if rec.chosen else 1)

    def _show(self, con, rec) -> None:
        from rich.table import Table

        table = Table("model", "verdict", "memory", "decode tok/s", "prefill tok/s",
                      f"{self.task} ms", "quality")
        for c in rec.candidates:
            row = (c.model, c.verdict, f"{c.memory_bytes / 2**20:.0f} MiB"
                   if c.memory_bytes else None, _rate(c.metrics.get("decode_tps")),
                   _rate(c.metrics.get("prompt_512_tps")),
                   f"{c.latency_ms:.0f}" if c.latency_ms is not None else None,
                   f"{c.quality.score:.2f}" if c.quality else None)
            table.add_row(*("-" if v is None else str(v) for v in row))
        con.print(table, highlight=False)
        print(rec.explain())
