"""Reports: one JSON-friendly dict per run, rendered as markdown, and a PNG speed chart."""

from __future__ import annotations

import json
from pathlib import Path

from slmkit.evaluate.speed import METRICS


def _fmt(x: float, digits: int = 4) -> str:
    if x is None:
        return "–"
    if x == 0 or 1e-3 <= abs(x) < 1e5:
        return f"{x:.{digits}g}"
    return f"{x:.3e}"


def eval_markdown(report: dict) -> str:
    """Markdown for ``slm eval``'s report (keys: model, engine, ppl, kld, choice)."""
    lines = [f"## Evaluation of {report['model']} ({report['engine']} engine)", ""]
    if "ppl" in report:
        p = report["ppl"]
        lines += [(f"**Perplexity** on {p['dataset']} — {p['n_chunks']} chunks of {p['chunk']} "
                   f"tokens, {p['n_scored']:,} tokens scored (second half of each chunk):"), "",
                  (f"PPL = **{p['ppl']:.4f} ± {p['ppl_se']:.4f}**  "
                   f"({p['tokens_per_second']:.0f} tokens/s)"), ""]
    if "kld" in report:
        k = report["kld"]
        how = "full rows, exact" if k["exact"] else f"top-{k['top_k']} + rest (lower bound)"
        lines += [(f"**KL-divergence** against {k['reference']} on {k['dataset']} — "
                   f"{k['n_chunks']} chunks, {k['n_scored']:,} positions, {how}:"), "",
                  "| statistic | value |", "|---|---|",
                  f"| mean KLD | {_fmt(k['kld_mean'])} ± {_fmt(k['kld_se'], 2)} |",
                  f"| median KLD | {_fmt(k['kld_median'])} |",
                  f"| 99th percentile KLD | {_fmt(k['kld_p99'])} |",
                  f"| max KLD | {_fmt(k['kld_max'])} |",
                  (f"| top-1 agreement | {100 * k['top1_agreement']:.2f}% ± "
                   f"{100 * k['top1_se']:.2f}% |"),
                  f"| PPL (model) | {k['ppl']:.4f} ± {k['ppl_se']:.4f} |",
                  f"| PPL (reference) | {k['ppl_reference']:.4f} |",
                  f"| ΔPPL | {k['delta_ppl']:+.4f} |",
                  (f"| mean ln(PPL/PPL ref) | {k['ln_ppl_ratio']:+.5f} ± "
                   f"{k['ln_ppl_ratio_se']:.5f} |"), ""]
    for c in report.get("choice", []):
        lines += [(f"**Multiple choice** on {c['dataset']} ({c['shots']}-shot, {c['mode']} "
                   f"scoring): accuracy **{100 * c['accuracy']:.1f}% ± "
                   f"{100 * c['accuracy_se']:.1f}%** ({c['correct']}/{c['n']}; chance "
                   f"{100 * c['chance']:.0f}%)"), ""]
    return "\n".join(lines).rstrip() + "\n"


def bench_markdown(run: dict) -> str:
    """Markdown table for ``slm bench``: one column per configuration, ratios vs the first."""
    results, ratios = run["results"], run["ratios"]
    labels = [r["label"] for r in results]
    head = "| metric | " + " | ".join(labels) + " |"
    lines = [head, "|---" * (len(labels) + 1) + "|"]
    for key, label, unit, better in METRICS:
        cells = []
        for r, q in zip(results, ratios):
            value = _fmt(r["metrics"].get(key), 3)
            ratio = q.get(key)
            cells.append(value if ratio is None or r is results[0] else f"{value} ({ratio:.2f}×)")
        lines.append(f"| {label} ({unit}, {better} is better) | " + " | ".join(cells) + " |")
    threads = ", ".join(f"{r['label']}: {r['detail'].get('threads')}" for r in results)
    lines += ["", f"ratios against {run['anchor']}; threads — {threads}"]
    return "\n".join(lines) + "\n"


def bench_chart(run: dict, path: str | Path) -> Path:
    """A PNG with one bar panel per metric, one bar per configuration."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results = run["results"]
    labels = [r["label"] for r in results]
    fig, axes = plt.subplots(2, 3, figsize=(12, 6.5))
    for ax, (key, label, unit, better) in zip(axes.flat, METRICS):
        values = [r["metrics"].get(key) or 0.0 for r in results]
        bars = ax.bar(range(len(values)), values, color=[f"C{i}" for i in range(len(values))])
        ax.set_title(f"{label} ({unit}, {better} is better)", fontsize=10)
        ax.set_xticks(range(len(values)), labels, rotation=15, ha="right", fontsize=8)
        ax.bar_label(bars, [_fmt(v, 3) for v in values], fontsize=8)
        ax.margins(y=0.2)
    fig.suptitle("slm bench — " + ", ".join(labels), fontsize=11)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write(report: dict, markdown: str, prefix: str | Path) -> tuple[Path, Path]:
    """``PREFIX.json`` and ``PREFIX.md``."""
    prefix = Path(prefix)
    prefix.parent.mkdir(parents=True, exist_ok=True)
    js, md = prefix.with_name(prefix.name + ".json"), prefix.with_name(prefix.name + ".md")
    js.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    md.write_text(markdown, encoding="utf-8")
    return js, md
