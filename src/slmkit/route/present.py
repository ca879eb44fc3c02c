"""Routing reports for people, on a rich console: the ledger summary `slm route report`
prints and the router comparison of `slm route eval`."""

from __future__ import annotations

from rich.table import Table

from slmkit.route.report import summary_lines


def print_ledger(con, s: dict, path) -> None:
    """The ledger summary :func:`~slmkit.route.report.ledger_report` made, and its chart."""
    con.print(f"[bold]route report[/] · {path} · {s['requests']} requests", highlight=False)
    table = Table("", "", box=None, show_header=False)
    for k, v in summary_lines(s):
        table.add_row(f"[dim]{k}[/]", str(v))
    con.print(table)
    if s.get("chart"):
        con.print(f"chart: {s['chart']}")
    elif "chart" in s:
        con.print("[dim]no chart: matplotlib is not installed (pip install 'slmkit[eval]')[/]")


def _num(x, pct: bool = False) -> str:
    return "-" if x is None else f"{x:.1%}" if pct else f"{x:.3f}"


def print_eval(con, r: dict) -> None:
    """APGR, CPT and the calibrated operating point of each router, on the held-apart split."""
    con.print(f"[bold]route eval[/] · {r['data']} · held-apart n={r['n_test']} "
              f"(trained on {r['n_train']}) · weak {r['weak']} {r['weak_accuracy']:.1%} · "
              f"strong {r['strong']} {r['strong_accuracy']:.1%}", highlight=False)
    table = Table("router", "APGR", "CPT(50%)", "CPT(80%)", "calibrated: escalated",
                  "accuracy", "PGR", box=None)
    for row in r["routers"]:
        c = row.get("calibrated") or {}
        table.add_row(row["router"], _num(row["apgr"]), _num(row["cpt50"], True),
                      _num(row["cpt80"], True), _num(c.get("escalated_share"), True),
                      _num(c.get("quality"), True), _num(c.get("pgr")))
    con.print(table)
    if r.get("chart"):
        con.print(f"chart: {r['chart']}")


def train_text(r: dict) -> str:
    """What `slm route train` prints for :class:`~slmkit.route.eval_request.RouteTrain`'s
    result."""
    use = (f"wrote {r['model']}  (use: slm serve --route LOCAL --upstream URL "
           f"--difficulty {r['model']})")
    if r.get("router") == "classifier":
        return (f"trained on {r['n']} outcomes ({r['hard_share']:.0%} hard); held-apart "
                f"AUC {r.get('holdout_auc')}, accuracy {r.get('holdout_accuracy')}\n{use}")
    pgr = "-" if r.get("cv_pgr") is None else f"{r['cv_pgr']:.2f}"
    return (f"{r['router']} router on {r['n']} outcomes ({r['hard_share']:.0%} hard: weak "
            f"{r['weak_accuracy']:.0%}, strong {r['strong_accuracy']:.0%}); cross-validated "
            f"APGR {r.get('cv_apgr')}\nthreshold {r['threshold']:.3f} (hardness rank): "
            f"escalates {r['cv_escalated_share']:.0%} for PGR {pgr} out of fold "
            f"(target {r['target_pgr']:g}{'' if r['threshold_reached'] else ', not reached'})"
            f"\n{use}")
