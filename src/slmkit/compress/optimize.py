"""`slm optimize`: try a ladder of quantized candidates, measure each against the float
reference on the user's data, keep the smallest that passes the budget — or refuse.

For every candidate: file size, bits per weight (every tensor counted, embeddings too),
mean KL-divergence and top-1 agreement against the reference, ΔPPL (both on the same
chunks, :mod:`slmkit.evaluate.kld`), optional multiple-choice accuracy drop
(:mod:`slmkit.evaluate.choice`), decode tokens/s (:mod:`slmkit.evaluate.speed`, a fresh
process each). The reference is the model's F32 form (its off-grid reference when one is
stored, see :mod:`.reference`). Calibrated candidates are calibrated on text held apart
from the evaluation text. A JSON + markdown report and a Pareto chart are written; the pick
is registered with its lineage. When nothing passes, :class:`BudgetError` carries the
table.
"""

from __future__ import annotations

import json
import operator
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from slmkit.core.errors import SlmError

DEFAULT_LADDER = ("Q8_0", "Q6_K", "Q5_K_M", "Q4_K_M", "Q4_0")
DEFAULT_CALIBRATED = ("Q4_K_M", "Q4_0")
# budget key → (row field, unit note)
METRICS = {
    "kld": "kld_mean", "top1": "top1_agreement", "dppl": "dppl_pct", "acc_drop": "acc_drop",
    "size_mb": "size_mb", "bpw": "bits_per_weight", "tps": "decode_tps",
}
_OPS = {"<=": operator.le, ">=": operator.ge, "<": operator.lt, ">": operator.gt}
_TERM = re.compile(r"^\s*([a-z_0-9]+)\s*(<=|>=|<|>)\s*([-+0-9.eE]+)\s*(%?)\s*$")


class BudgetError(SlmError):
    code = "budget_not_met"

    def __init__(self, message: str, *, table: str = "", report: dict | None = None,
                 hint: str | None = None) -> None:
        super().__init__(message + ("\n" + table if table else ""), hint=hint)
        self.report = report


@dataclass
class Budget:
    terms: list[tuple[str, str, float]] = field(default_factory=list)  # (key, op, value)

    @classmethod
    def parse(cls, text: str) -> Budget:
        """``"kld<=0.05,acc_drop<=1,dppl<=3%"`` → a Budget; ``ValueError`` on a bad term."""
        terms = []
        for part in filter(None, (p.strip() for p in text.split(","))):
            m = _TERM.match(part)
            if not m or m.group(1) not in METRICS:
                raise ValueError(f"bad budget term {part!r}: use KEY<=NUMBER with KEY one of "
                                 f"{', '.join(METRICS)} (e.g. kld<=0.05,acc_drop<=1)")
            terms.append((m.group(1), m.group(2), float(m.group(3))))
        if not terms:
            raise ValueError("the budget is empty (e.g. --budget 'kld<=0.05')")
        return cls(terms)

    def check(self, row: dict) -> list[str]:
        """The terms ``row`` fails (a metric that was not measured fails)."""
        failed = []
        for key, op, value in self.terms:
            got = row.get(METRICS[key])
            if got is None or not _OPS[op](got, value):
                failed.append(f"{key}{op}{value:g} (got {'—' if got is None else f'{got:.4g}'})")
        return failed

    def get(self, key: str) -> float | None:
        return next((v for k, op, v in self.terms if k == key and op in ("<=", "<")), None)

    def __str__(self) -> str:
        return ",".join(f"{k}{op}{v:g}" for k, op, v in self.terms)


@dataclass
class Candidate:
    gguf_type: str
    calibrated: bool = False

    @property
    def label(self) -> str:
        return self.gguf_type + ("+awq" if self.calibrated else "")


def ladder(types=DEFAULT_LADDER, calibrated=DEFAULT_CALIBRATED) -> list[Candidate]:
    return [Candidate(t.upper()) for t in types] + [Candidate(t.upper(), True) for t in calibrated]


def split_data(text: str) -> tuple[str, str]:
    """(calibration text, evaluation text): the first third calibrates, the rest evaluates."""
    cut = len(text) // 3
    cut = text.find("\n", cut) + 1 or cut
    return text[:cut], text[cut:]


def optimize(model: str, budget: Budget, *, data: str = "wikipedia", store=None,
             candidates: list[Candidate] | None = None, calibrate: str | None = None,
             choice: str | None = None, choice_limit: int = 100, chunks: int = 8,
             chunk: int = 512, speed: bool = True, threads: int = 2, name: str | None = None,
             out_dir: str | Path | None = None, progress=None, register: bool = True) -> dict:
    """Evaluate the candidates, write the report and chart, register the smallest passing
    one (as ``name``, default ``<model>-opt``). Returns the report; raises
    :class:`BudgetError` (report written) when none passes."""
    from slmkit.compress.quantize import float_source
    from slmkit.evaluate import datasets
    from slmkit.models.store import Store

    store = store or Store()
    t0 = time.perf_counter()
    ref = store.resolve(model)
    src = float_source(store, ref)
    ds = datasets.resolve(data, kind="text")
    calib_text, eval_text = split_data(datasets.load_text(ds))
    calib_name = f"{ds.name} (first third)"
    if calibrate:
        cds = datasets.resolve(calibrate, kind="text")
        calib_text, calib_name = datasets.load_text(cds), cds.name
        eval_text = datasets.load_text(ds)
    candidates = candidates or ladder()
    out_dir = Path(out_dir or f"slm-optimize-{ref.name}")
    out_dir.mkdir(parents=True, exist_ok=True)
    report = {"model": ref.name, "reference": f"{ref.name} as F32 ({src.made_from})",
              "reference_on_grid": src.on_grid, "budget": str(budget), "data": ds.name,
              "calibration_data": calib_name, "chunks": chunks, "chunk": chunk,
              "threads": threads, "rows": []}
    with store.scratch("optimize-") as work:
        evaluator = _Evaluator(src.f32, eval_text, chunks, chunk, threads, choice,
                               choice_limit, speed, progress)
        report["rows"].append(evaluator.row("F32 (reference)", src.f32, False, None))
        for i, cand in enumerate(candidates):
            path = _make(store, ref, cand, work, calib_text, calib_name, threads, progress)
            row = evaluator.row(cand.label, path, cand.calibrated, cand.gguf_type)
            row["path"] = str(path)
            row["failed"] = budget.check(row)
            row["passes"] = not row["failed"]
            report["rows"].append(row)
            if progress:
                progress("candidates", i + 1, len(candidates))
        report["seconds"] = round(time.perf_counter() - t0, 1)
        return _decide(report, budget, store, ref, out_dir, name, register)


def _make(store, ref, cand: Candidate, work: Path, calib_text: str, calib_name: str,
          threads: int, progress) -> Path:
    from slmkit.compress.quantize import quantize_model

    out = work / f"{cand.label.replace('+', '-')}.gguf"
    result = quantize_model(ref.name if store.has(ref.name) else ref.path, cand.gguf_type,
                            store=store, output=out, register=False, force=True,
                            calibrate=calib_name if cand.calibrated else None,
                            calib_text=calib_text if cand.calibrated else None,
                            threads=threads, progress=progress)
    (work / f"{out.name}.method").write_text(result.method)
    return out


class _Evaluator:
    """Measures one GGUF against the cached reference logits."""

    def __init__(self, ref_path: Path, text: str, chunks: int, chunk: int, threads: int,
                 choice: str | None, choice_limit: int, speed: bool, progress) -> None:
        from slmkit.evaluate import kld

        self.chunk, self.threads, self.speed, self.progress = chunk, threads, speed, progress
        self.choice_items, self.choice_limit, self.ref_acc = None, choice_limit, None
        identity = {"reference": kld.model_identity(str(ref_path)), "engine": "llamacpp",
                    "data": _digest(text)}
        self.reference, _, _ = kld.cached_reference(
            lambda: self._open(ref_path), text, identity=identity, chunk=chunk,
            max_chunks=chunks, progress=progress)
        if choice:
            from slmkit.evaluate import datasets

            self.choice_items = datasets.load_choices(datasets.resolve(choice, kind="choice"))

    def _open(self, path: Path):
        from slmkit.runtime import load_engine

        return load_engine(str(path), name=path.stem, n_ctx=max(self.chunk, 1024),
                           n_threads=self.threads)

    def row(self, label: str, path: Path, calibrated: bool, gguf_type: str | None) -> dict:
        from slmkit.compress.quantize import bits_per_weight
        from slmkit.evaluate import kld

        size = path.stat().st_size
        row = {"label": label, "type": gguf_type or "F32", "calibrated": calibrated,
               "size_bytes": size, "size_mb": round(size / 2**20, 2),
               "bits_per_weight": round(bits_per_weight(path), 3)}
        engine = self._open(path)
        try:
            res = kld.compare(engine, self.reference, progress=self.progress)
            row.update(kld_mean=res.kld_mean, kld_se=res.kld_se, kld_p99=res.kld_p99,
                       top1_agreement=res.top1_agreement, ppl=res.ppl,
                       ppl_reference=res.ppl_reference,
                       dppl_pct=100 * (res.ppl / res.ppl_reference - 1), kld_exact=res.exact)
            if self.choice_items is not None:
                from slmkit.evaluate.choice import choice_accuracy

                acc = 100 * choice_accuracy(engine, self.choice_items, limit=self.choice_limit,
                                            progress=self.progress).accuracy
                if self.ref_acc is None:
                    self.ref_acc = acc
                row.update(accuracy=acc, acc_drop=self.ref_acc - acc)
        finally:
            engine.close()
        if self.speed:
            from slmkit.evaluate.speed import BenchConfig, run_isolated

            got = run_isolated(BenchConfig(label, str(path), threads=self.threads, gen=64,
                                           repeat=2, n_ctx=1024))
            row["decode_tps"] = got.metrics.get("decode_tps")
            row["prompt_512_tps"] = got.metrics.get("prompt_512_tps")
        return row


def _digest(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode()).hexdigest()


def _decide(report: dict, budget: Budget, store, ref, out_dir: Path, name: str | None,
            register: bool) -> dict:
    from slmkit.compress import pareto

    rows = [r for r in report["rows"] if r["type"] != "F32"]
    passing = sorted((r for r in rows if r["passes"]), key=lambda r: r["size_bytes"])
    chosen = passing[0] if passing else None
    report["chosen"] = chosen["label"] if chosen else None
    report["pareto_front"] = [rows[i]["label"] for i in pareto.pareto_front(rows)]
    chart = pareto.chart(report["rows"], out_dir / "pareto.png", chosen=report["chosen"],
                         kld_budget=budget.get("kld"),
                         title=f"{report['model']}: size vs KLD on {report['data']}")
    report["chart"] = str(chart)
    if chosen and register:
        target = name or f"{re.sub(r'-(f32|f16|hf)$', '', ref.name)}-opt"
        method = Path(chosen["path"] + ".method")
        method = method.read_text() if method.exists() else f"quantize:{chosen['type']}"
        params = {"budget": str(budget), "candidate": chosen["label"], "data": report["data"]}
        with store.derive(target, parent=ref.name if store.has(ref.name) else None,
                          method=f"{method}+optimize({budget})", params=params,
                          overwrite=True) as d:
            os.replace(chosen["path"], d.dir / Path(chosen["path"]).name)
        report["registered"] = {"name": target, "path": d.ref.path}
    md = markdown(report)
    (out_dir / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    (out_dir / "report.md").write_text(md)
    report["report"] = str(out_dir / "report.md")
    if chosen is None:
        raise BudgetError(f"no candidate of {report['model']} passes the budget {budget}",
                          table=table(report), report=report,
                          hint="loosen the budget, add larger types (--types Q8_0,F16), or "
                               f"see {out_dir / 'report.md'} and the chart")
    return report


COLUMNS = (("label", "candidate", "{}"), ("size_mb", "MiB", "{:.1f}"),
           ("bits_per_weight", "bits/w", "{:.2f}"), ("kld_mean", "KLD", "{:.4f}"),
           ("top1_agreement", "top-1", "{:.3f}"), ("dppl_pct", "ΔPPL %", "{:+.2f}"),
           ("acc_drop", "acc drop", "{:+.1f}"), ("decode_tps", "decode tok/s", "{:.0f}"))


def table(report: dict) -> str:
    cols = [c for c in COLUMNS if any(r.get(c[0]) is not None for r in report["rows"])]
    lines = ["| " + " | ".join(h for _, h, _ in cols) + " | pass |",
             "|" + "---|" * (len(cols) + 1)]
    for r in report["rows"]:
        cells = [fmt.format(r[k]) if r.get(k) is not None else "—" for k, _, fmt in cols]
        verdict = "ref" if r["type"] == "F32" else ("yes" if r.get("passes") else
                                                    "no: " + "; ".join(r.get("failed", [])))
        lines.append("| " + " | ".join(cells) + f" | {verdict} |")
    return "\n".join(lines)


def markdown(report: dict) -> str:
    grid = (" — **warning**: the reference was dequantized from a quantized file, its weights "
            "sit on the old grid and re-quantization is flattered" if report["reference_on_grid"]
            else "")
    chosen = report.get("chosen")
    out = [f"# slm optimize {report['model']}", "",
           f"- budget: `{report['budget']}`",
           f"- reference: {report['reference']}{grid}",
           (f"- evaluation: {report['data']}, {report['chunks']} chunks of {report['chunk']} "
           f"tokens (second half scored); calibration: {report['calibration_data']}"),
           f"- chosen: **{chosen}**" if chosen else "- chosen: none — every candidate failed",
           "", table(report), "", "![size vs KLD](pareto.png)", ""]
    return "\n".join(out)
