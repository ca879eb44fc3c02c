"""Log parsing accuracy the Loghub-2.0 way: GA, PA, FGA and FTA against labelled templates.

- GA (grouping accuracy): share of lines whose predicted group holds exactly the lines of
  their true group.
- PA (parsing accuracy): share of lines whose predicted template equals the true template
  (whitespace normalised).
- FGA (group F1): a predicted group is correct when its line set equals a true group's;
  precision over predicted groups, recall over true groups.
- FTA (template F1): like FGA, but the group's template must also equal the true template.

``load_loghub(dir)`` reads one system of Loghub-2k (``*_structured_corrected.csv``).
"""

from __future__ import annotations

import csv
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass
class LabelledLog:
    """One system's labelled lines: contents, true event ids and true templates."""

    system: str
    contents: list[str]
    event_ids: list[str]
    templates: list[str]


def load_loghub(system_dir: str | Path) -> LabelledLog:
    """Read ``<System>_2k.log_structured_corrected.csv`` from a Loghub-2k system folder."""
    folder = Path(system_dir)
    files = sorted(folder.glob("*_structured_corrected.csv"))
    if not files:
        raise FileNotFoundError(f"no *_structured_corrected.csv in {folder}; point at one "
                                "system folder of Loghub-2k (e.g. .../loghub-2k/HDFS)")
    contents, ids, templates = [], [], []
    with open(files[0], newline="", encoding="utf-8", errors="replace") as fh:
        for row in csv.DictReader(fh):
            if not row.get("EventId"):
                continue
            contents.append(row["Content"])
            ids.append(row["EventId"])
            templates.append(row["EventTemplate"])
    return LabelledLog(folder.name, contents, ids, templates)


def _norm(template: str) -> str:
    return " ".join(template.split())


def _groups(labels: Sequence[str]) -> dict[str, frozenset[int]]:
    out: dict[str, set[int]] = defaultdict(set)
    for i, label in enumerate(labels):
        out[label].add(i)
    return {k: frozenset(v) for k, v in out.items()}


def _f1(correct: int, predicted: int, truth: int) -> float:
    p = correct / predicted if predicted else 0.0
    r = correct / truth if truth else 0.0
    return 2 * p * r / (p + r) if p + r else 0.0


def parsing_metrics(truth_ids: Sequence[str], truth_templates: Sequence[str],
                    pred_ids: Sequence[str], pred_templates: Sequence[str]) -> dict[str, float]:
    """GA, PA, FGA, FTA for one system (lists aligned line by line)."""
    n = len(truth_ids)
    if not n or n != len(pred_ids):
        raise ValueError(f"need aligned, non-empty labels (truth {n}, predicted "
                         f"{len(pred_ids)})")
    true_groups = _groups(truth_ids)
    pred_groups = _groups(pred_ids)
    true_sets = {g: k for k, g in true_groups.items()}
    ga_lines = correct_groups = correct_templates = 0
    for members in pred_groups.values():
        true_key = true_sets.get(members)
        if true_key is None:
            continue
        correct_groups += 1
        ga_lines += len(members)
        i = next(iter(members))
        if _norm(pred_templates[i]) == _norm(truth_templates[i]):
            correct_templates += 1
    pa = sum(_norm(p) == _norm(t) for p, t in zip(pred_templates, truth_templates)) / n
    return {
        "GA": ga_lines / n, "PA": pa,
        "FGA": _f1(correct_groups, len(pred_groups), len(true_groups)),
        "FTA": _f1(correct_templates, len(pred_groups), len(true_groups)),
        "templates_true": len(true_groups), "templates_found": len(pred_groups),
    }


def run_parser(parse: Callable[[str], tuple[str, str]], log: LabelledLog,
               final: Callable[[str], str] | None = None) -> dict[str, float]:
    """Run ``parse(content) -> (group id, template)`` over a labelled log and score it.

    ``final(group id) -> template`` (when given) reads each group's template after the last
    line, as Loghub does: online parsers generalise templates as lines arrive. Speed is
    ``lines_per_s`` (wall clock) and ``cpu_lines_per_s`` (this process's CPU time, the one
    core it runs on; the fair number on a shared machine)."""
    start, cpu = time.perf_counter(), time.process_time()
    ids, templates = [], []
    for content in log.contents:
        gid, tmpl = parse(content)
        ids.append(gid)
        templates.append(tmpl)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    if final is not None:
        templates = [final(g) for g in ids]
    scores = parsing_metrics(log.event_ids, log.templates, ids, templates)
    scores["lines_per_s"] = len(log.contents) / seconds if seconds else float("inf")
    # CPU time of this process: on a shared machine, wall time also counts other processes
    scores["cpu_lines_per_s"] = len(log.contents) / cpu if cpu else float("inf")
    return scores


def ours(system: str) -> tuple[Callable[[str], tuple[str, str]], Callable[[str], str]]:
    """(parse, final template) for our Drain with the Loghub settings of ``system``."""
    from slmkit.apps.logs.drain import Drain
    from slmkit.apps.logs.masking import LOGHUB_DRAIN, LOGHUB_MASKS

    st, depth = LOGHUB_DRAIN.get(system, (0.5, 4))
    d = Drain(sim_th=st, depth=depth, masks=LOGHUB_MASKS.get(system, ()))

    def parse(content: str) -> tuple[str, str]:
        cluster, _ = d.add(content)
        return cluster.event_id, cluster.template

    return parse, lambda gid: d.clusters[int(gid[1:])].template


def drain3_parser(system: str) -> tuple[Callable[[str], tuple[str, str]], Callable[[str], str]]:
    """(parse, final template) for drain3 with the same settings and masks (the anchor)."""
    from drain3 import TemplateMiner
    from drain3.masking import MaskingInstruction
    from drain3.template_miner_config import TemplateMinerConfig

    from slmkit.apps.logs.masking import LOGHUB_DRAIN, LOGHUB_MASKS

    st, depth = LOGHUB_DRAIN.get(system, (0.5, 4))
    cfg = TemplateMinerConfig()
    cfg.drain_sim_th, cfg.drain_depth = st, depth
    cfg.masking_instructions = [MaskingInstruction(p, "*") for p in LOGHUB_MASKS.get(system, ())]
    cfg.mask_prefix, cfg.mask_suffix = "<", ">"
    cfg.profiling_enabled = False
    miner = TemplateMiner(config=cfg)

    def parse(content: str) -> tuple[str, str]:
        r = miner.add_log_message(content)
        return str(r["cluster_id"]), r["template_mined"]

    return parse, lambda gid: miner.drain.id_to_cluster[int(gid)].get_template()


def pick_examples(lines: Sequence[str], k: int = 4) -> list[str]:
    """Up to ``k`` distinct lines spread over ``lines`` (first, last and between)."""
    distinct = list(dict.fromkeys(lines))
    if len(distinct) <= k:
        return distinct
    step = (len(distinct) - 1) / (k - 1)
    return [distinct[round(i * step)] for i in range(k)]


def run_corrected(system: str, log: LabelledLog, corrector) -> dict[str, float]:
    """Our Drain, then each final template corrected by ``corrector``
    (``correct.TemplateCorrector``) from a few of the group's lines and accepted only if it
    matches all of them; scored like ``run_parser``, with the model's cost.
    ``online_calls_per_1000_lines`` counts the distinct templates a stream would have sent
    (``slm logs parse --correct`` asks once per template as it changes)."""
    parse, final = ours(system)
    ids, seen = [], set()
    for content in log.contents:
        gid, tmpl = parse(content)
        ids.append(gid)
        seen.add(tmpl)
    members: dict[str, list[str]] = defaultdict(list)
    for gid, content in zip(ids, log.contents):
        members[gid].append(content)
    from slmkit.apps.logs.correct import fits

    calls, seconds = corrector.stats.calls, corrector.stats.seconds
    fixed = {}
    for g, lines in members.items():
        answer = corrector.correct(final(g), pick_examples(lines), check=lines)
        fixed[g] = answer if fits(answer, lines) else final(g)  # a cached answer, re-checked
    scores = parsing_metrics(log.event_ids, log.templates, ids, [fixed[g] for g in ids])
    n = len(log.contents)
    scores.update(model_calls=corrector.stats.calls - calls,
                  seconds=corrector.stats.seconds - seconds,
                  changed=sum(fixed[g] != " ".join(final(g).split()) for g in members))
    scores["calls_per_1000_lines"] = 1000.0 * scores["model_calls"] / n
    scores["online_calls_per_1000_lines"] = 1000.0 * len(seen) / n
    return scores


def evaluate_loghub(root: str | Path, systems: Sequence[str] | None = None,
                    compare: bool = False, progress=None, corrector=None) -> dict[str, dict]:
    """Per-system GA/PA/FGA/FTA and lines/s of ours (and drain3 with ``compare``; with
    ``corrector``, a ``correct.TemplateCorrector``, ours with template correction too)."""
    root = Path(root)
    names = list(systems) if systems else sorted(
        p.name for p in root.iterdir() if p.is_dir() and any(p.glob("*_structured*.csv")))
    if not names:
        raise FileNotFoundError(f"no Loghub system folders under {root}")
    out: dict[str, dict] = {}
    for i, name in enumerate(names, 1):
        log = load_loghub(root / name)
        parse, final = ours(name)
        row = {"slmkit": run_parser(parse, log, final=final)}
        if compare:
            parse, final = drain3_parser(name)
            row["drain3"] = run_parser(parse, log, final=final)
        if corrector is not None:
            row["corrected"] = run_corrected(name, log, corrector)
        out[name] = row
        if progress is not None:
            progress({"done": i, "total": len(names), "item": name})
    return out

