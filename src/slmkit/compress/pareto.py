"""The size–quality–speed chart of a set of candidates, and their Pareto front."""

from __future__ import annotations

from pathlib import Path


def pareto_front(rows: list[dict], x: str = "size_mb", y: str = "kld_mean") -> list[int]:
    """Indices of the rows no other row beats on both ``x`` and ``y`` (lower is better)."""
    front = []
    for i, r in enumerate(rows):
        if r.get(x) is None or r.get(y) is None:
            continue
        dominated = any(o.get(x) is not None and o.get(y) is not None
                        and o[x] <= r[x] and o[y] <= r[y] and (o[x] < r[x] or o[y] < r[y])
                        for j, o in enumerate(rows) if j != i)
        if not dominated:
            front.append(i)
    return front


def chart(rows: list[dict], path: str | Path, *, title: str = "", kld_budget: float | None = None,
          chosen: str | None = None) -> Path:
    """Size (MiB) vs mean KL-divergence (log scale) per candidate, decode tok/s written next
    to each point, the Pareto front joined, the budget as a dashed line, the pick circled."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    refs = [r for r in rows if r.get("type") == "F32"]
    pts = [r for r in rows if r.get("kld_mean") is not None and r.get("size_mb") is not None
           and r.get("type") != "F32"]  # the reference (KLD 0) would only stretch the axis
    fig, ax = plt.subplots(figsize=(8, 5), dpi=110)
    floor = min([r["kld_mean"] for r in pts if r["kld_mean"] > 0] or [1e-4]) / 3
    for r in pts:
        y = max(r["kld_mean"], floor)
        calibrated = bool(r.get("calibrated"))
        ax.scatter(r["size_mb"], y, marker="D" if calibrated else "o", s=40,
                   color="tab:orange" if calibrated else "tab:blue", zorder=3)
        speed = f", {r['decode_tps']:.0f} tok/s" if r.get("decode_tps") else ""
        ax.annotate(f"{r['label']}{speed}", (r["size_mb"], y), textcoords="offset points",
                    xytext=(5, 4), fontsize=7)
        if chosen and r["label"] == chosen:
            ax.scatter(r["size_mb"], y, s=220, facecolors="none", edgecolors="green",
                       linewidths=2, zorder=4)
    front = sorted((pts[i] for i in pareto_front(pts)), key=lambda r: r["size_mb"])
    if len(front) > 1:
        ax.plot([r["size_mb"] for r in front], [max(r["kld_mean"], floor) for r in front],
                "--", color="gray", lw=1, label="Pareto front")
    if kld_budget is not None:
        ax.axhline(kld_budget, color="red", ls=":", lw=1, label=f"budget KLD ≤ {kld_budget:g}")
    ax.set_yscale("log")
    ax.set_xlabel("file size (MiB)")
    ax.set_ylabel("mean KL-divergence vs reference (log)")
    ref_note = f" — reference F32: {refs[0]['size_mb']:.0f} MiB" if refs else ""
    ax.set_title((title or "size vs quality") + ref_note
                 + "\n(circles plain, diamonds calibrated; decode tok/s in labels)", fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    if front or kld_budget is not None:
        ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
