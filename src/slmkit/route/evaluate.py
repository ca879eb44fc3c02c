"""Router evaluation the RouteLLM way, on a labelled multiple-choice set.

Each item is answered by the weak (local) and the strong (remote) engine; a router score
ranks items from "escalate first" to "keep local". Escalating the top share ``s`` of items
gives quality ``q(s)``; the performance gap recovered is ``PGR(s) = (q(s) - q_weak) /
(q_strong - q_weak)``; APGR is its area over ``s`` in [0, 1] (a random router: 0.5);
CPT(p) is the smallest share of calls to the strong model that reaches ``PGR >= p``.

Both engines answer the same lettered prompt with one token and its top log-probabilities
(any ``core.Engine``: llama.cpp locally, our own server or any OpenAI-compatible upstream
remotely), so the comparison needs nothing but the Engine contract.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from slmkit.core.types import ChatMessage, GenerateRequest, SamplingParams, collect

LETTERS = "ABCDEFGHIJ"
TOP = 20  # what OpenAI-compatible APIs allow


@dataclass(frozen=True)
class Item:
    """A lettered multiple-choice prompt and its answer index. ``chat``: the prompt is a
    user message (asking for the letter), sent through the chat template; else a raw
    completion prompt ending in ``Answer:``."""

    prompt: str
    n_choices: int
    answer: int
    chat: bool = False
    target: str | None = None  # set: graded by the generated answer matching this text


CHAT_INSTRUCTION = "Answer with the letter of the correct choice only."


def chat_prompt(question: str, choices: Sequence[str]) -> str:
    lines = [question] + [f"{LETTERS[i]}. {c}" for i, c in enumerate(choices)]
    return "\n".join(lines) + "\n\n" + CHAT_INSTRUCTION


@dataclass
class Answer:
    choice: int  # -1: no letter among the top tokens
    confidence: float  # probability of the chosen letter, renormalised over the letters
    letter_probs: tuple[float, ...]
    correct: bool | None = None  # generated answers: whether it matched the target

    def right(self, item: Item) -> bool:
        return self.correct if self.correct is not None else self.choice == item.answer


GENERATE_INSTRUCTION = "Answer with the answer only, no explanation."
MAX_ANSWER_TOKENS = 12
NUMBER_RE = re.compile(r"-?\d[\d,]*(?:\.\d+)?")
LETTER_RE = re.compile("[A-J]")
HANGUL_RE = re.compile("[\uac00-\ud7a3]")


def choice_items(choices: Sequence, fmt: str, *, letter_prompt: Callable) -> list[Item]:
    """Items from multiple-choice questions (``question``, ``choices``, ``answer``) in
    ``fmt``: ``generate`` (answered freely, right when the answer matches the correct
    choice), ``chat`` (a letter through the chat template) or ``completion`` (a letter
    after ``letter_prompt(choice)``, e.g. an MMLU-style prompt)."""
    if fmt == "generate":
        return [Item(generate_prompt(c.question), len(c.choices), c.answer, chat=True,
                     target=c.choices[c.answer]) for c in choices]
    if fmt == "chat":
        return [Item(chat_prompt(c.question, c.choices), len(c.choices), c.answer, chat=True)
                for c in choices]
    return [Item(letter_prompt(c), len(c.choices), c.answer) for c in choices]


def training_outcomes(items: Sequence[Item], weak: Sequence[Answer], strong: Sequence[Answer],
                      test_share: float, seed: int) -> list[dict]:
    """``{"prompt", "weak_ok", "strong_ok", "hard"}`` rows of the training split (hard: the
    weak model is wrong and the strong one right), what `slm route train` reads."""
    tr, _ = split(len(items), test_share, seed)
    rows = []
    for i in tr:
        w, s = bool(weak[i].right(items[i])), bool(strong[i].right(items[i]))
        rows.append({"prompt": items[i].prompt, "weak_ok": w, "strong_ok": s,
                     "hard": s and not w})
    return rows


def generate_prompt(question: str) -> str:
    return f"{question} {GENERATE_INSTRUCTION}"


def matches(output: str, target: str) -> bool:
    """A generated answer is right when its first number equals a numeric target, it
    opens with the target letter (a choice's letter, ``A``..``J``), or its first line
    contains the target text (case and punctuation ignored; Korean text also inside a
    word, since particles and endings attach to it)."""
    if NUMBER_RE.fullmatch(target.strip()):
        m = NUMBER_RE.search(output)
        return m is not None and m.group().replace(",", "") == target.strip().replace(",", "")
    if LETTER_RE.fullmatch(target.strip()):  # a choice's letter: the one the answer opens with
        m = re.match(r"\W*(?:answer\W*)?([A-J])\b", output.strip(), re.I)
        return m is not None and m.group(1).upper() == target.strip()
    norm = lambda t: re.sub(r"[^\w ]", " ", t.lower()).split()
    first = next((line for line in output.splitlines() if line.strip()), "")
    if HANGUL_RE.search(target):  # Korean attaches particles and endings: 파리입니다
        return "".join(target.split()) in "".join(first.split())
    want = norm(target)
    words = norm(first)
    return bool(want) and any(words[i:i + len(want)] == want for i in range(len(words)))


def generated(engine, item: Item, *, timeout: float | None = 300.0) -> Answer:
    """Greedy answer of up to a few tokens; confidence is exp(mean token log-probability),
    the signal the router's judge uses."""
    text = {"messages": [ChatMessage("user", item.prompt)]} if item.chat \
        else {"prompt": item.prompt}
    req = GenerateRequest(**text, max_tokens=MAX_ANSWER_TOKENS, logprobs=0,
                          sampling=SamplingParams(temperature=0.0), timeout=timeout)
    out = collect(engine.generate(req))
    lps = [t.logprob for t in out.logprobs or ()]
    conf = math.exp(sum(lps) / len(lps)) if lps else 0.0
    ok = matches(out.text, item.target or "")
    return Answer(item.answer if ok else -1, conf, (), ok)


def answer(engine, item: Item, *, timeout: float | None = 300.0) -> Answer:
    """The engine's answer to ``item``: generated and matched when it has a target, else
    a letter."""
    if item.target is not None:
        return generated(engine, item, timeout=timeout)
    return letter(engine, item, timeout=timeout)


def letter(engine, item: Item, *, timeout: float | None = 300.0) -> Answer:
    """The engine's letter for ``item``: the most likely of `` A``..`` D`` (with or without
    the leading space) among its first token's top alternatives."""
    local = engine.info.capabilities.grammar
    # an engine with grammars is made to answer a letter (else a small model may stop at
    # once, and a finished stream carries no log-probabilities)
    grammar = f'root ::= " "? [{LETTERS[0]}-{LETTERS[item.n_choices - 1]}]' if local else None
    text = {"messages": [ChatMessage("user", item.prompt)]} if item.chat \
        else {"prompt": item.prompt}
    req = GenerateRequest(**text, max_tokens=1, logprobs=TOP, grammar=grammar,
                          sampling=SamplingParams(temperature=0.0), timeout=timeout)
    out = collect(engine.generate(req))
    first = out.logprobs[0] if out.logprobs else None
    cands = ((first.top or (first,)) if first is not None else ())
    best = [-math.inf] * item.n_choices
    for t in cands:
        key = t.text.strip()
        if len(key) == 1 and key in LETTERS[:item.n_choices]:
            i = LETTERS.index(key)
            best[i] = max(best[i], t.logprob)
    if all(v == -math.inf for v in best):
        return Answer(-1, 0.0, tuple(0.0 for _ in best))
    m = max(best)
    p = np.exp(np.array(best) - m)
    p /= p.sum()
    i = int(np.argmax(p))
    return Answer(i, float(p[i]), tuple(float(x) for x in p))


def answer_all(engine, items: Sequence[Item],
               progress: Callable[[int, int], None] | None = None, *,
               cache: str | None = None, model: str = "") -> list[Answer]:
    """Answers for every item; with ``cache`` (a JSONL file) answers already given by
    ``model`` to the same prompt are reused and new ones appended, so an interrupted or
    repeated evaluation does not ask again."""
    known = _read_cache(cache, model) if cache else {}
    out = []
    for i, item in enumerate(items):
        key = _key(model, item)
        if key not in known:
            known[key] = answer(engine, item)
            if cache:
                _append_cache(cache, key, known[key])
        out.append(known[key])
        if progress:
            progress(i + 1, len(items))
    return out


def _key(model: str, item: Item) -> str:
    kind = ("chat" if item.chat else "prompt") + ("/generate" if item.target else "")
    return hashlib.sha256(f"{model}\0{kind}\0{item.prompt}".encode()).hexdigest()[:32]


def _read_cache(path: str, model: str) -> dict[str, Answer]:
    out: dict[str, Answer] = {}
    if not os.path.exists(path):
        return out
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                rec = json.loads(line)
                out[rec["key"]] = Answer(int(rec["choice"]), float(rec["confidence"]),
                                         tuple(rec["letter_probs"]), rec.get("correct"))
            except (ValueError, KeyError, TypeError):
                continue  # a line cut short by an interrupted run
    return out


def _append_cache(path: str, key: str, a: Answer) -> None:
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps({"key": key, "choice": a.choice, "confidence": a.confidence,
                            "letter_probs": list(a.letter_probs), "correct": a.correct}) + "\n")


def curve(weak: np.ndarray, strong: np.ndarray, score: np.ndarray) -> dict:
    """Quality and PGR when escalating the top-k items by ``score`` (higher = escalate
    first), for k = 0..n. Ties are broken by averaging over their order."""
    weak, strong = weak.astype(float), strong.astype(float)
    n = len(weak)
    order = np.lexsort((np.arange(n), -score))
    gain = (strong - weak)[order]
    sorted_scores = score[order]
    # average the gain within tied groups so the curve does not depend on item order
    start = 0
    while start < n:
        end = start
        while end + 1 < n and sorted_scores[end + 1] == sorted_scores[start]:
            end += 1
        gain[start:end + 1] = gain[start:end + 1].mean()
        start = end + 1
    quality = (weak.sum() + np.concatenate([[0.0], np.cumsum(gain)])) / n
    q_weak, q_strong = float(weak.mean()), float(strong.mean())
    gap = q_strong - q_weak
    pgr = (quality - q_weak) / gap if gap > 0 else np.full(n + 1, np.nan)
    share = np.arange(n + 1) / n
    return {"share": share, "quality": quality, "pgr": pgr, "q_weak": q_weak,
            "q_strong": q_strong}


def apgr(c: dict) -> float:
    """Area under PGR(share) over [0, 1] (trapezoids)."""
    pgr, share = c["pgr"], c["share"]
    return float(np.sum((pgr[1:] + pgr[:-1]) / 2 * np.diff(share)))


def cpt(c: dict, target: float) -> float | None:
    """Smallest share of strong calls with PGR >= ``target`` (None if never)."""
    hits = np.nonzero(c["pgr"] >= target - 1e-12)[0]
    return float(c["share"][hits[0]]) if len(hits) else None


def summary(name: str, weak: np.ndarray, strong: np.ndarray, score: np.ndarray) -> dict:
    c = curve(weak, strong, score)
    gap_ok = c["q_strong"] > c["q_weak"]
    return {"router": name, "apgr": round(apgr(c), 4) if gap_ok else None,
            "cpt50": cpt(c, 0.5) if gap_ok else None, "cpt80": cpt(c, 0.8) if gap_ok else None,
            "curve": {"share": [round(float(x), 4) for x in c["share"]],
                      "quality": [round(float(x), 4) for x in c["quality"]]}}


def random_baseline(weak: np.ndarray, strong: np.ndarray, *, seeds: int = 200) -> dict:
    """The mean curve of random routers (APGR ≈ 0.5)."""
    rng = np.random.default_rng(0)
    runs = [curve(weak, strong, rng.random(len(weak))) for _ in range(seeds)]
    mean = {"share": runs[0]["share"], "quality": np.mean([r["quality"] for r in runs], 0),
            "pgr": np.mean([r["pgr"] for r in runs], 0), "q_weak": runs[0]["q_weak"],
            "q_strong": runs[0]["q_strong"]}
    gap_ok = mean["q_strong"] > mean["q_weak"]
    return {"router": "random", "apgr": round(apgr(mean), 4) if gap_ok else None,
            "cpt50": cpt(mean, 0.5) if gap_ok else None,
            "cpt80": cpt(mean, 0.8) if gap_ok else None,
            "curve": {"share": [round(float(x), 4) for x in mean["share"]],
                      "quality": [round(float(x), 4) for x in mean["quality"]]}}


def best_threshold(c_scores: np.ndarray, weak: np.ndarray, strong: np.ndarray,
                   target_pgr: float) -> float | None:
    """The score threshold (escalate when score >= it) that reaches ``target_pgr`` with
    the fewest escalations on this (training) split; None if unreachable."""
    c = curve(weak, strong, c_scores)
    share = cpt(c, target_pgr)
    if share is None:
        return None
    k = int(round(share * len(weak)))
    if k == 0:
        return float(np.max(c_scores)) + 1.0
    return float(np.sort(c_scores)[::-1][k - 1])


def split(n: int, test_share: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded (train, held-apart test) index arrays."""
    if not 0 < test_share < 1:
        raise ValueError("the held-apart share must be between 0 and 1")
    idx = np.random.default_rng(seed).permutation(n)
    cut = int(round(n * test_share))
    return np.sort(idx[cut:]), np.sort(idx[:cut])


def evaluate_routers(items: Sequence[Item], weak: Sequence[Answer], strong: Sequence[Answer],
                     *, test_share: float = 0.5, seed: int = 0, target_pgr: float = 0.8,
                     train_difficulty: Callable | None = None,
                     train_router: Callable | None = None) -> dict:
    """Compare routers on the held-apart split; thresholds are calibrated on the other.

    Routers: ``confidence`` (escalate the weak model's least confident answers first),
    ``difficulty`` (a classifier fit on the training split's outcomes — strong right where
    weak was wrong — by
    ``train_difficulty(prompts, hard) -> model with scores(texts)``), ``vote`` (the prompt
    router `slm serve --difficulty` runs, fit on the training split by
    ``train_router(prompts, weak_ok, strong_ok)``; skipped when it refuses the outcomes),
    and ``random``."""
    w_ok = np.array([a.right(it) for a, it in zip(weak, items)], dtype=bool)
    s_ok = np.array([a.right(it) for a, it in zip(strong, items)], dtype=bool)
    unsure = 1.0 - np.array([a.confidence for a in weak])
    tr, te = split(len(items), test_share, seed)
    scores = {"confidence": unsure}
    report: dict = {"n": len(items), "n_train": len(tr), "n_test": len(te), "seed": seed,
                    "weak_accuracy": round(float(w_ok[te].mean()), 4),
                    "strong_accuracy": round(float(s_ok[te].mean()), 4),
                    "weak_accuracy_all": round(float(w_ok.mean()), 4),
                    "strong_accuracy_all": round(float(s_ok.mean()), 4)}
    if train_difficulty is not None:
        # the label RouteLLM learns from: the strong model wins where the weak one fails
        model = train_difficulty([items[i].prompt for i in tr], list(s_ok[tr] & ~w_ok[tr]))
        scores["difficulty"] = model.scores([it.prompt for it in items])
        report["difficulty_model"] = model
        ranks = {k: _rank01(v) for k, v in scores.items()}
        scores["confidence+difficulty"] = (ranks["confidence"] + ranks["difficulty"]) / 2
    if train_router is not None:
        try:
            router = train_router([items[i].prompt for i in tr], w_ok[tr], s_ok[tr])
        except ValueError:  # e.g. no training item where escalating helps
            router = None
        if router is not None:
            scores["vote"] = router.scores([it.prompt for it in items])
            report["router_model"] = router
    routers = [random_baseline(w_ok[te], s_ok[te])]
    for name, score in scores.items():
        row = summary(name, w_ok[te], s_ok[te], score[te])
        own = report["router_model"].threshold if name == "vote" else None
        row["calibrated"] = _calibrated(score, w_ok, s_ok, tr, te, target_pgr, own)
        routers.append(row)
    report["routers"] = routers
    report["target_pgr"] = target_pgr
    return report


def run(items: Sequence[Item], weak, strong, *, names: tuple[str, str], progress=None,
        cache: str | None = None, test_share: float = 0.5, seed: int = 0,
        target_pgr: float = 0.8, difficulty_out: str | None = None,
        outcomes: str | None = None, chart_path: str | None = None,
        router_out: str | None = None) -> dict:
    """Answer ``items`` with the ``weak`` and ``strong`` engines (``names``: theirs;
    ``progress(task, done, total)``), then :func:`evaluate_routers`. Optionally save the
    difficulty model and the vote router (``router_out``: what `slm serve --difficulty`
    loads), write the training split's outcomes (JSONL) and draw the chart."""
    from slmkit.route import tasks
    from slmkit.route.difficulty import train

    answers = [answer_all(eng, items, (lambda i, n, t=f"{role}: {name}": progress(t, i, n))
                          if progress else None, cache=cache, model=name)
               for eng, role, name in ((weak, "weak", names[0]), (strong, "strong", names[1]))]
    report = evaluate_routers(items, *answers, test_share=test_share, seed=seed,
                              target_pgr=target_pgr, train_difficulty=train,
                              train_router=_vote_router)
    model = report.pop("difficulty_model", None)
    router = report.pop("router_model", None)
    if router_out and router is not None:
        report["router_model"] = str(router.save(router_out))
    report.update(weak=names[0], strong=names[1])
    if difficulty_out and model is not None:
        report["difficulty_model"] = str(model.save(difficulty_out))
    if outcomes:
        tasks.write_jsonl(training_outcomes(items, *answers, test_share, seed), outcomes)
    if chart_path:
        report["chart"] = chart(report, chart_path)
    return report


def _vote_router(prompts: list[str], weak_ok: np.ndarray, strong_ok: np.ndarray):
    """The vote prompt router (`route.prompt_router`) fit on training outcomes."""
    from slmkit.route.outcomes import Outcomes
    from slmkit.route.prompt_router import train

    return train(Outcomes(prompts, weak_ok, strong_ok), kind="vote")


def _rank01(x: np.ndarray) -> np.ndarray:
    order = np.argsort(x, kind="mergesort")
    r = np.empty(len(x))
    r[order] = np.arange(len(x))
    return r / max(1, len(x) - 1)


def _calibrated(score, w_ok, s_ok, tr, te, target: float, threshold: float | None = None
                ) -> dict | None:
    """A threshold chosen on the training split (or the ``threshold`` a router calibrated
    itself, out of fold), applied to the held-apart one."""
    t = threshold if threshold is not None else best_threshold(score[tr], w_ok[tr], s_ok[tr],
                                                               target)
    if t is None:
        return None
    up = score[te] >= t
    q = float(np.where(up, s_ok[te], w_ok[te]).mean())
    qw, qs = float(w_ok[te].mean()), float(s_ok[te].mean())
    return {"threshold": round(t, 6), "escalated_share": round(float(up.mean()), 4),
            "quality": round(q, 4),
            "pgr": round((q - qw) / (qs - qw), 4) if qs > qw else None}


def chart(report: dict, path) -> str | None:
    """Quality vs share escalated for each router (PNG); None without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, ax = plt.subplots(figsize=(6.4, 4.4), dpi=120)
    for r in report["routers"]:
        style = ":" if r["router"] == "random" else "-"
        label = f"{r['router']} (APGR {r['apgr']})" if r["apgr"] is not None else r["router"]
        ax.plot(r["curve"]["share"], r["curve"]["quality"], style, label=label)
    ax.axhline(report["weak_accuracy"], color="grey", lw=0.8, ls="--")
    ax.axhline(report["strong_accuracy"], color="black", lw=0.8, ls="--")
    ax.set_xlabel("share of requests escalated to the strong model")
    ax.set_ylabel("accuracy (held-apart split)")
    ax.set_title(f"routing: weak {report['weak_accuracy']:.1%} → strong "
                 f"{report['strong_accuracy']:.1%} (n={report['n_test']})")
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return str(path)
