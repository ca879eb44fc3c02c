"""The model store as the web UI sees it (``serve.routes_ui_jobs.ModelAdmin``): stored
models with their lineage, the catalog sized for this machine, pull with byte progress,
and delete. ``slm serve`` hands one to the server; serve/ never imports this package."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from slmkit.models import catalog
from slmkit.models.info import list_rows
from slmkit.models.speeds import FILE, SpeedBook


class StoreAdmin:
    """``ModelAdmin`` over a :class:`~slmkit.models.store.Store` (default: the user's)."""

    def __init__(self, store=None, *, n_ctx: int = 4096, quant: str = "Q4_K_M") -> None:
        if store is None:
            from slmkit.models.store import Store

            store = Store()
        self.store, self.n_ctx, self.quant = store, n_ctx, quant
        self.speeds = SpeedBook(Path(store.root) / FILE)

    def stored(self) -> list[dict[str, Any]]:
        """``slm list --json`` rows, lineage included, each with ``speed``: the last decode
        speed measured (``slm bench`` or the UI's Measure button), or None."""
        speeds = self.speeds.all()
        return [r | {"speed": speeds.get(r["name"])} for r in list_rows(self.store)]

    def record_speed(self, name: str, record: dict[str, Any]) -> dict[str, Any]:
        """Keep a measured decode speed of ``name`` (``record["decode_tps"]`` and detail)."""
        detail = {k: v for k, v in record.items() if k not in ("decode_tps", "source")}
        return self.speeds.record(name, record["decode_tps"],
                                  source=record.get("source", "measured"), **detail)

    def catalog(self) -> list[dict[str, Any]]:
        """Every catalog entry at ``quant``/``n_ctx``: size estimate and whether it fits."""
        from slmkit.models.hardware import probe

        stored = {r["name"] for r in list_rows(self.store)}
        return [{"name": c.entry.name, "family": c.entry.family, "params": c.entry.params,
                 "tier": c.entry.tier, "use": c.entry.use, "licence": c.entry.licence,
                 "offline": c.entry.offline, "memory_bytes": c.estimate.total,
                 "quant": c.estimate.quant, "fits": c.fits, "stored": c.entry.name in stored}
                for c in catalog.survey(probe(), quant=self.quant, n_ctx=self.n_ctx)]

    def pull(self, name: str, progress: Callable[[int, int | None], None]) -> dict[str, Any]:
        """Pull the catalog model ``name`` (its pinned source and sha256), reporting bytes as
        they arrive. Only catalog names: an HTTP client never names a path or a source."""
        entry = catalog.get(name)
        if entry is None:
            near = catalog.closest(name)
            raise ValueError(f"{name!r} is not in the catalog" + (
                f" (did you mean: {', '.join(near)}?)" if near else "") + "; the web UI pulls "
                "catalog models only: run `slm pull SPEC` on the server for other sources")
        ref = self.store.pull(entry.name,
                              progress=lambda _task, done, total: progress(done, total))
        return {"model": ref.name, "size_bytes": ref.size_bytes}

    def remove(self, name: str) -> int:
        """Delete a stored model; the bytes freed."""
        return self.store.remove(name)
