"""First contact (issue 14): does each offline model answer the fixed prompt set right at
its default settings? The evidence for the default model, the per-model catalog sampling
defaults and the README tour's examples.

Every prompt (benchmarks/first_contact_prompts.py: facts, arithmetic, code, Korean,
summaries) runs ``--n`` times per model and sampling setting, as `slm run MODEL PROMPT`
would send it (the catalog's system prompt and sampling, a fresh seed per run), and each
answer is checked automatically. Prints the correct-answer rate per prompt, per model and
per setting; saves benchmarks/results/first-contact-DATE.{json,md}.

    python benchmarks/first_contact.py [--n 10] [--models a,b] [--settings default,greedy]
        [--setting NAME:temperature=0.2,top_p=0.9] [--prompts id,id] [--parallel 8]

Settings: ``default`` = the catalog's prompt defaults (what users get); ``greedy`` = the
same with temperature 0 (run once: it is deterministic); ``NAME:k=v,...`` = the catalog
defaults with these sampling fields (temperature, top_p, top_k, min_p, repeat_penalty,
and any other SamplingParams field) or the system prompt (``system=TEXT``, no commas)
overridden.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from _common import machine, save
from first_contact_prompts import PROMPTS, TOUR, Prompt

OFFLINE_CHAT_MODELS = ("qwen2.5-coder-0.5b-instruct", "smollm2-135m-instruct")


def parse_setting(spec: str) -> tuple[str, dict]:
    """``NAME:k=v,k=v`` → (NAME, {k: number}); ``default``/``greedy`` are built in."""
    if spec == "default":
        return spec, {}
    if spec == "greedy":
        return spec, {"temperature": 0.0}
    name, _, body = spec.partition(":")
    fields = {}
    for item in filter(None, body.split(",")):
        k, _, v = item.partition("=")
        try:
            fields[k.strip()] = float(v) if "." in v else int(v)
        except ValueError:  # system=TEXT (no commas)
            fields[k.strip()] = v
    return name, fields


def make_request(prompt: Prompt, defaults: dict, overrides: dict):
    """The request `slm run` sends (``apps.chat.one_request``: the catalog's system prompt
    and sampling, a Korean summary ask routed through the summarizer's prompt), with
    ``overrides`` (sampling fields, ``system``) on top."""
    from types import SimpleNamespace

    from slmkit.apps.chat import one_request
    from slmkit.core.types import SAMPLING_FIELDS

    args = SimpleNamespace(max_tokens=prompt.max_tokens, stop=[], seed=None,
                           system=overrides.get("system"),
                           **{f: overrides.get(f) for f in SAMPLING_FIELDS})
    return one_request(prompt.text, args, defaults)


def run_model(model: str, settings: list[str], prompts: list[Prompt], n: int,
              parallel: int, on_done=None) -> dict:
    """Every setting × prompt × run on one loaded engine; rates and failing samples."""
    from slmkit.core.types import collect
    from slmkit.models.load import load, resolve

    resolved = resolve(model, pull=True)
    engine = load(resolved, n_ctx=1024, n_parallel=parallel)
    out = {"model": resolved.name, "defaults": dict(resolved.prompt_defaults),
           "threads": engine.n_threads, "settings": {}}
    try:
        for spec in settings:
            name, overrides = parse_setting(spec)
            runs = 1 if name == "greedy" else n
            jobs = [(p, make_request(p, resolved.prompt_defaults, overrides))
                    for p in prompts for _ in range(runs)]
            t0 = time.perf_counter()
            with ThreadPoolExecutor(parallel) as pool:
                texts = list(pool.map(lambda j: collect(engine.generate(j[1])).text, jobs))
            per_prompt: dict[str, dict] = {}
            for (p, _), text in zip(jobs, texts):
                ok, why = p.check(text)
                row = per_prompt.setdefault(p.id, {"kind": p.kind, "ok": 0, "runs": 0,
                                                   "failures": []})
                row["ok"] += ok
                row["runs"] += 1
                if not ok and len(row["failures"]) < 2:
                    row["failures"].append({"why": why, "answer": text[:300]})
            out["settings"][name] = {"overrides": overrides, "prompts": per_prompt,
                                     "seconds": round(time.perf_counter() - t0, 1)}
            if on_done is not None:
                on_done(out)
            print(f"  {resolved.name} [{name}] done in {time.perf_counter() - t0:.0f} s",
                  file=sys.stderr)
    finally:
        engine.close()
    return out


def markdown(results: list[dict], n: int) -> str:
    """One table: a row per prompt, a column per model × setting (correct/runs)."""
    cols = [(r["model"], s) for r in results for s in r["settings"]]
    head = "| prompt | kind | " + " | ".join(f"{m} [{s}]" for m, s in cols) + " |"
    lines = [f"# First contact: correct answers per prompt (n={n} per cell, greedy n=1)", "",
             head, "|" + "---|" * (len(cols) + 2)]
    by_model = {r["model"]: r for r in results}
    ids = [p.id for p in PROMPTS if any(p.id in by_model[m]["settings"][s]["prompts"]
                                        for m, s in cols)]
    for pid in ids:
        cells, kind = [], ""
        for m, s in cols:
            row = by_model[m]["settings"][s]["prompts"].get(pid)
            kind = row["kind"] if row else kind
            cells.append(f"{row['ok']}/{row['runs']}" if row else "")
        mark = " (tour)" if pid in TOUR else ""
        lines.append(f"| {pid}{mark} | {kind} | " + " | ".join(cells) + " |")
    totals = []
    for m, s in cols:
        rows = by_model[m]["settings"][s]["prompts"].values()
        totals.append(f"{sum(r['ok'] for r in rows) / max(1, sum(r['runs'] for r in rows)):.0%}")
    lines.append("| **all** | | " + " | ".join(totals) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=10, help="runs per prompt and setting")
    ap.add_argument("--models", default=",".join(OFFLINE_CHAT_MODELS))
    ap.add_argument("--settings", default="default,greedy")
    ap.add_argument("--setting", action="append", default=[], metavar="NAME:k=v,...",
                    help="an extra sampling setting (repeatable)")
    ap.add_argument("--prompts", default="", help="comma-separated prompt ids (default: all)")
    ap.add_argument("--parallel", type=int, default=8, help="sequences decoded at once")
    ap.add_argument("--tag", default="first-contact", help="result file name prefix")
    args = ap.parse_args()
    chosen = set(filter(None, args.prompts.split(",")))
    prompts = [p for p in PROMPTS if not chosen or p.id in chosen]
    settings = args.settings.split(",") + args.setting
    results: list[dict] = []

    def checkpoint(partial: dict) -> Path:  # after every model × setting: partial results
        done = [r for r in results if r["model"] != partial["model"]] + [partial]
        return save(args.tag, {"n": args.n, "machine": machine(), "busy_machine": True,
                               "load_average": os.getloadavg(), "results": done},
                    markdown(done, args.n))

    for m in args.models.split(","):
        results.append(run_model(m, settings, prompts, args.n, args.parallel, checkpoint))
    print(markdown(results, args.n))
    print(f"saved {checkpoint(results[-1])}", file=sys.stderr)


if __name__ == "__main__":
    main()
