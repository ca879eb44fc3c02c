"""The last measured decode speed of each model on this machine, kept beside the store
(``$SLM_HOME/speeds.json``): ``slm bench`` records its result there, and so does the web
UI's "Measure" button; the UI's models page shows it with when it was measured.

One JSON object ``{model: {"decode_tps", "at", "source", ...}}``; written whole to a
temporary file and renamed, under a file lock, so concurrent writers never corrupt it."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

FILE = "speeds.json"


class SpeedBook:
    """The speeds file at ``path``."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def all(self) -> dict[str, dict[str, Any]]:
        """Every record by model name ({} when nothing was measured or the file is bad)."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return {k: v for k, v in data.items() if isinstance(v, dict)} \
            if isinstance(data, dict) else {}

    def record(self, model: str, decode_tps: float, *, source: str, **detail: Any) -> dict:
        """Keep ``decode_tps`` as ``model``'s latest speed; returns the record."""
        from filelock import FileLock

        if not decode_tps or decode_tps <= 0:
            raise ValueError(f"decode speed of {model!r} must be positive, got {decode_tps}")
        entry = {**detail, "decode_tps": round(float(decode_tps), 2), "source": source,
                 "at": detail.get("at") or time.time()}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(self.path) + ".lock"):
            data = self.all()
            data[model] = entry
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(data, indent=1, sort_keys=True), encoding="utf-8")
            os.replace(tmp, self.path)
        return entry


def default_book() -> SpeedBook:
    """The speeds file of the user's store (``$SLM_HOME/speeds.json``)."""
    from slmkit.models.store import default_root

    return SpeedBook(default_root() / FILE)


def record_bench(run: dict[str, Any], book: SpeedBook | None = None) -> None:
    """Record the decode rate of every configuration of an ``evaluate.speed.compare`` run
    (``source: "slm bench"``, with the engine and thread count it ran with) in ``book``
    (default: the user's store)."""
    book = book or default_book()
    for result in run.get("results", []):
        config, metrics = result["config"], result["metrics"]
        if metrics.get("decode_tps"):
            book.record(config["model"], metrics["decode_tps"], source="slm bench",
                        engine=config.get("engine"), threads=result.get("detail", {})
                        .get("threads"), tokens=config.get("gen"))
