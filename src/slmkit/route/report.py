"""Summaries of the cost ledger: where requests were answered, why, what they cost, what
all-remote would have cost; and a PNG chart when matplotlib is installed."""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Sequence

from slmkit.route.ledger import Entry


def _p(values: Sequence[float], q: float) -> float:
    if not values:
        return 0.0
    s = sorted(values)
    return s[min(len(s) - 1, int(q * (len(s) - 1) + 0.5))]


def summarize(entries: Sequence[Entry]) -> dict:
    """Totals, shares, costs, savings, reasons and a per-day series."""
    n = len(entries)
    routes = Counter(e.route for e in entries)
    remote_cost = sum(e.remote_cost for e in entries)
    all_remote = sum(e.all_remote_cost for e in entries)
    overhead = [e.overhead_ms for e in entries if e.outcome == "ok"]
    return {
        "requests": n,
        "routes": dict(routes),
        "escalated_share": round(routes.get("remote", 0) / n, 4) if n else 0.0,
        "outcomes": dict(Counter(e.outcome for e in entries)),
        "reasons": dict(Counter(e.reason.split(":")[0] for e in entries).most_common()),
        "tokens": {
            "local_prompt": sum(e.local_prompt_tokens for e in entries),
            "local_completion": sum(e.local_completion_tokens for e in entries),
            "remote_prompt": sum(e.remote_prompt_tokens for e in entries),
            "remote_completion": sum(e.remote_completion_tokens for e in entries),
        },
        "local_seconds": round(sum(e.local_seconds for e in entries), 3),
        "masked_values": sum(e.masked for e in entries),
        "remote_cost_usd": round(remote_cost, 6),
        "all_remote_cost_usd": round(all_remote, 6),
        "savings_usd": round(all_remote - remote_cost, 6),
        "savings_share": round(1 - remote_cost / all_remote, 4) if all_remote else None,
        "router_overhead_ms": {"p50": round(_p(overhead, 0.5), 3),
                               "p95": round(_p(overhead, 0.95), 3)},
        "remote_models": sorted({e.remote_model for e in entries if e.remote_model}),
        "by_day": by_day(entries),
    }


def by_day(entries: Sequence[Entry]) -> list[dict]:
    """One row per UTC day: requests per route, actual and all-remote cost."""
    days: dict[str, dict] = defaultdict(lambda: {"local": 0, "remote": 0, "fallback": 0,
                                                 "cost": 0.0, "all_remote_cost": 0.0})
    for e in entries:
        d = days[time.strftime("%Y-%m-%d", time.gmtime(e.ts))]
        d[e.route] = d.get(e.route, 0) + 1
        d["cost"] += e.remote_cost
        d["all_remote_cost"] += e.all_remote_cost
    return [{"day": k, **v} for k, v in sorted(days.items())]


def chart(summary: dict, path: str) -> str | None:
    """Requests per day by route, and cumulative cost vs all-remote, as a PNG. Returns
    the path, or None when matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    rows = summary["by_day"]
    days = [r["day"] for r in rows]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    bottom = [0] * len(rows)
    for route, color in (("local", "#4c9f70"), ("fallback", "#e0a030"), ("remote", "#d05050")):
        values = [r.get(route, 0) for r in rows]
        ax1.bar(days, values, bottom=bottom, label=route, color=color)
        bottom = [b + v for b, v in zip(bottom, values)]
    ax1.set_title("requests per day")
    ax1.legend()
    cum, cum_all, acc, acc_all = [], [], 0.0, 0.0
    for r in rows:
        acc, acc_all = acc + r["cost"], acc_all + r["all_remote_cost"]
        cum.append(acc)
        cum_all.append(acc_all)
    ax2.plot(days, cum_all, marker="o", label="all remote", color="#d05050")
    ax2.plot(days, cum, marker="o", label="routed", color="#4c9f70")
    ax2.set_title("cumulative cost (USD)")
    ax2.legend()
    for ax in (ax1, ax2):
        ax.tick_params(axis="x", rotation=45)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def summary_lines(s: dict) -> list[tuple[str, str]]:
    """(label, value) lines of a :func:`summarize` result, as `slm route report` prints it."""
    def counts(d: dict) -> str:
        return ", ".join(f"{k} {v}" for k, v in d.items()) or "-"

    t, overhead = s["tokens"], s["router_overhead_ms"]
    savings = f"${s['savings_usd']:.4f}"
    if s["savings_share"] is not None:
        savings += f" ({s['savings_share']:.0%} of all-remote)"
    return [
        ("routes", counts(s["routes"])), ("escalated", f"{s['escalated_share']:.1%}"),
        ("reasons", counts(s["reasons"])), ("outcomes", counts(s["outcomes"])),
        ("local tokens", f"{t['local_prompt']} prompt + {t['local_completion']} completion"),
        ("local compute", f"{s['local_seconds']:.1f} s"),
        ("remote tokens", f"{t['remote_prompt']} prompt + {t['remote_completion']} completion"),
        ("remote cost", f"${s['remote_cost_usd']:.4f}"),
        ("all-remote cost", f"${s['all_remote_cost_usd']:.4f}"), ("savings", savings),
        ("values masked", str(s["masked_values"])),
        ("router overhead", f"p50 {overhead['p50']} ms, p95 {overhead['p95']} ms"),
    ]


def operations(path, *, since: float = 0.0) -> dict | None:
    """The web UI's view of the ledger at ``path`` since a time: routes, reasons, costs and
    what the guard did, as counts only (never a value); None when there is no ledger."""
    from pathlib import Path

    if not Path(path).exists():
        return None
    entries = _entries(path, since)
    s = summarize(entries)
    guard = {"masked_values": s["masked_values"],
             "kept_local": sum(1 for e in entries if e.reason.startswith("guard_keep_local")),
             "blocked": sum(1 for e in entries if e.outcome == "blocked")}
    keep = ("requests", "routes", "escalated_share", "outcomes", "reasons", "remote_cost_usd",
            "all_remote_cost_usd", "savings_usd", "router_overhead_ms")
    return {"routing": {k: s[k] for k in keep}, "guard": guard}


def ledger_report(path: str | None = None, *, days: float | None = None,
                  chart_path: str | None = None) -> tuple[dict, str]:
    """:func:`summarize` the ledger at ``path`` (default: the router's) over the last
    ``days`` (None: everything), with ``chart`` for ``chart_path`` (None when matplotlib
    is missing). Returns the summary and the ledger's path."""
    import time
    from pathlib import Path

    from slmkit.route.ledger import default_path

    where = Path(path) if path else default_path()
    if not where.exists():
        raise ValueError(f"no ledger at {where}; the router writes one when it serves requests")
    summary = summarize(_entries(where, time.time() - days * 86400 if days else 0.0))
    if chart_path:
        summary["chart"] = chart(summary, chart_path)
    return summary, str(where)


def _entries(path, since: float) -> list[Entry]:
    from slmkit.route.ledger import Ledger

    ledger = Ledger(path)
    try:
        return ledger.entries(since)
    finally:
        ledger.close()
