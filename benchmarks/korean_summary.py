"""Korean e-mail summaries (issue 14, item 4): does a model give the e-mail back instead of
summarizing it?

Ten Korean e-mails (benchmarks/data/ko-emails, written for this benchmark) go through each
offline chat model at its default settings along two paths:

- ``chat``: "다음 이메일을 세 줄로 요약해줘:\\n\\n<e-mail>" as `slm run MODEL PROMPT` sends it
  (``apps.chat.one_request``: the catalog's system prompt and sampling);
- ``summarize``: `slm summarize --lang ko` on the e-mail (``apps.summarize``, its defaults).

Each answer is scored by ``first_contact_prompts.summary_metrics``: copied (>70% of its
characters in verbatim 12+ character runs of the e-mail), echo (copied and >= 60% of the
e-mail's length: the e-mail given back), looping (over 30% repeated 8-grams), Korean,
within the ask (at most 3 lines for the chat ask, the app's 8 items for summarize, and under
60% of the e-mail's length), key fact present; ``ok``: none of the faults, all of the rest.
Prints the counts per model and path; saves benchmarks/results/korean-summary-DATE.{json,md}.
``--rescore FILE`` scores a saved run's answers again (after a change to the checks).

    python benchmarks/korean_summary.py [--models a,b] [--paths chat,summarize] [--n 1]
        [--tag korean-summary] [--threads 1] [--rescore RESULTS.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from _common import machine, save
from first_contact import OFFLINE_CHAT_MODELS
from first_contact_prompts import ko_emails, summary_metrics

ASK = "다음 이메일을 세 줄로 요약해줘:\n\n{text}"
MAX_LINES = {"chat": 3, "summarize": 8}  # the chat ask; the app's default (120 words: 8 items)
COUNTS = ("echo", "copied", "loops", "korean", "within_ask", "key_fact", "ok")


def chat_answer(engine, defaults: dict, text: str, seed: int | None) -> str:
    """The answer `slm run` prints for the chat ask."""
    from slmkit.apps.chat import one_request
    from slmkit.core.types import SAMPLING_FIELDS, collect

    args = SimpleNamespace(max_tokens=256, stop=[], seed=seed, system=None,
                           **{f: None for f in SAMPLING_FIELDS})
    return collect(engine.generate(one_request(ASK.format(text=text), args, defaults))).text


def summarize_answer(engine, name: str, text: str) -> str:
    """The summary `slm summarize --lang ko` prints for the e-mail."""
    from slmkit.apps.documents import from_text
    from slmkit.apps.summarize import SummaryOptions, summarize

    return summarize(from_text(f"{name}.txt", text), engine, SummaryOptions(lang="ko"))["summary"]


def run_model(model: str, paths: list[str], n: int, threads: int) -> dict:
    """Every e-mail through every path on one loaded engine: per-answer metrics."""
    from slmkit.models.load import load, resolve

    resolved = resolve(model, pull=True)
    engine = load(resolved, n_ctx=2048, n_threads=threads)
    greedy = float(resolved.prompt_defaults.get("temperature", 0.8)) <= 0.0
    out = {"model": resolved.name, "defaults": dict(resolved.prompt_defaults), "paths": {}}
    try:
        for path in paths:
            rows, t0 = [], time.perf_counter()
            for mail in ko_emails():
                for run in range(1 if greedy or path == "summarize" else n):
                    answer = (chat_answer(engine, resolved.prompt_defaults, mail["text"], None)
                              if path == "chat" else
                              summarize_answer(engine, mail["id"], mail["text"]))
                    m = summary_metrics(answer, mail["text"], tuple(mail["keys"]),
                                        MAX_LINES[path])
                    rows.append({"id": mail["id"], "run": run, **m, "answer": answer})
            out["paths"][path] = {"rows": rows, "seconds": round(time.perf_counter() - t0, 1)}
            print(f"  {resolved.name} [{path}] {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    finally:
        engine.close()
    return out


def markdown(results: list[dict], tag: str) -> str:
    """A row per model × path: how many answers were echoes, copied, Korean, within the
    ask, had the key fact, and passed all (an echo fails)."""
    lines = [f"# Korean e-mail summaries ({tag}): answers per model and path", "",
             "| model | path | answers | " + " | ".join(COUNTS) + " |",
             "|" + "---|" * (len(COUNTS) + 3)]
    for r in results:
        for path, block in r["paths"].items():
            rows = block["rows"]
            cells = [str(sum(row[c] for row in rows)) for c in COUNTS]
            lines.append(f"| {r['model']} | {path} | {len(rows)} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def rescore(path: Path) -> dict:
    """A saved run (machine, load, results) with every answer scored again by the current
    checks."""
    saved = json.loads(path.read_text(encoding="utf-8"))
    results = saved["results"]
    mails = {m["id"]: m for m in ko_emails()}
    for r in results:
        for name, block in r["paths"].items():
            for row in block["rows"]:
                mail = mails[row["id"]]
                row.update(summary_metrics(row["answer"], mail["text"], tuple(mail["keys"]),
                                           MAX_LINES[name]))
    return saved


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default=",".join(OFFLINE_CHAT_MODELS))
    ap.add_argument("--paths", default="chat,summarize")
    ap.add_argument("--n", type=int, default=1, help="runs per e-mail for sampled models")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--tag", default="korean-summary", help="result file name prefix")
    ap.add_argument("--rescore", type=Path, help="score a saved run's answers again")
    args = ap.parse_args()
    if args.rescore:
        payload = rescore(args.rescore)
    else:
        payload = {"machine": machine(), "busy_machine": True,
                   "results": [run_model(m, args.paths.split(","), args.n, args.threads)
                               for m in args.models.split(",")],
                   "load_average": os.getloadavg()}
    text = markdown(payload["results"], args.tag)
    print(text)
    path = save(args.tag, payload, text)
    print(f"saved {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
