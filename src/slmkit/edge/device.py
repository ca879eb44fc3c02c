"""The device's update area: two slots, a ``current`` symlink and a state file.

Layout of the device directory::

    device.json           {"id": ...}: the device id (made once)
    state.json            committed/previous version, pending update, last index version,
                          rejected versions with reasons, recent history
    slots/a, slots/b      an installed bundle each (its manifest.json + files)
    slots/.X.tmp          a slot being installed (removed on restart)
    current -> slots/X    what serves; replaced atomically (symlink + os.replace)
    staging/<sha>.part    a download in progress (resumed by the next poll)

Invariants: ``state.json`` is replaced atomically (fsynced); ``current`` only ever
points at a complete slot; a slot is complete when its ``manifest.json`` exists (written
last, before the slot directory is renamed into place). :meth:`Device.recover` puts
``current`` back on the committed slot after a crash, so an update interrupted at any
step leaves the old version serving and is retried.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from datetime import datetime, timezone
from pathlib import Path

from slmkit.util.files import atomic_write

SLOTS = ("a", "b")
HISTORY = 50


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class Device:
    """One device directory (see the module docstring)."""

    def __init__(self, root: str | Path, device_id: str | None = None) -> None:
        self.root = Path(root)
        self.slots = self.root / "slots"
        self.current = self.root / "current"
        self.staging = self.root / "staging"
        for d in (self.slots, self.staging):
            d.mkdir(parents=True, exist_ok=True)
        self.id = device_id or self._stored_id()

    def _stored_id(self) -> str:
        path = self.root / "device.json"
        if path.exists():
            return json.loads(path.read_text())["id"]
        new = f"dev-{uuid.uuid4().hex[:12]}"
        atomic_write(path, json.dumps({"id": new}), fsync=True)
        return new

    # ---- state -------------------------------------------------------------------------

    def state(self) -> dict:
        """The state file's content (a fresh device: nothing committed)."""
        path = self.root / "state.json"
        if not path.exists():
            return {"committed": None, "previous": None, "pending": None,
                    "index_version": 0, "rejected": {}, "history": []}
        return json.loads(path.read_text())

    def save(self, state: dict) -> None:
        """Replace the state file atomically (fsynced before the rename)."""
        state["history"] = state.get("history", [])[-HISTORY:]
        atomic_write(self.root / "state.json", json.dumps(state, indent=1), fsync=True)

    @staticmethod
    def log(state: dict, event: str, version: str | None, reason: str = "") -> None:
        """Append an event to the state's history (saved with the state)."""
        state.setdefault("history", []).append(
            {"time": now_iso(), "event": event, "version": version, "reason": reason})

    # ---- slots ---------------------------------------------------------------------------

    def slot_dir(self, slot: str) -> Path:
        return self.slots / slot

    def current_slot(self) -> str | None:
        """The slot ``current`` points at (None when there is no current)."""
        try:
            return Path(os.readlink(self.current)).name
        except OSError:
            return None

    def free_slot(self, state: dict) -> str:
        """The slot an update may overwrite: not the committed one."""
        committed = (state.get("committed") or {}).get("slot")
        return next(s for s in SLOTS if s != committed)

    def slot_manifest(self, slot: str) -> dict | None:
        """The manifest of a complete slot (None when it is empty or half-installed)."""
        path = self.slot_dir(slot) / "manifest.json"
        return json.loads(path.read_text()) if path.exists() else None

    def begin_install(self, slot: str) -> Path:
        """An empty temporary directory for ``slot``'s new content."""
        tmp = self.slots / f".{slot}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        return tmp

    def finish_install(self, slot: str, tmp: Path, manifest: dict) -> None:
        """Write the manifest last, then move the slot into place."""
        atomic_write(tmp / "manifest.json", json.dumps(manifest, indent=1), fsync=True)
        target = self.slot_dir(slot)
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
        _fsync_dir(self.slots)

    def point_current(self, slot: str | None) -> None:
        """Swap ``current`` to ``slot`` atomically (None: remove it)."""
        if slot is None:
            self.current.unlink(missing_ok=True)
            return
        tmp = self.root / f".current.{os.getpid()}.tmp"
        tmp.unlink(missing_ok=True)
        os.symlink(Path("slots") / slot, tmp)
        os.replace(tmp, self.current)
        _fsync_dir(self.root)

    def recover(self) -> str | None:
        """After a crash: drop half-installed slots and an unfinished update, and point
        ``current`` at the committed slot. Returns what was undone (None: nothing)."""
        for tmp in self.slots.glob(".*.tmp"):
            shutil.rmtree(tmp, ignore_errors=True)
        for tmp in self.root.glob(".current.*.tmp"):
            tmp.unlink(missing_ok=True)
        state = self.state()
        committed = (state.get("committed") or {}).get("slot")
        undone = None
        if state.get("pending"):
            undone = f"interrupted update to {state['pending']['version']} undone"
            self.log(state, "interrupted", state["pending"]["version"],
                     "the agent stopped during the update; retried on the next poll")
            state["pending"] = None
            self.save(state)
        if self.current_slot() != committed:
            self.point_current(committed)
            undone = undone or "current pointed back at the committed slot"
        return undone

    def staging_file(self, digest: str) -> Path:
        return self.staging / f"{digest}.part"

    def clean_staging(self, keep: str | None = None) -> None:
        """Remove downloads other than ``keep`` (a digest)."""
        for p in self.staging.glob("*.part"):
            if keep is None or p.name != f"{keep}.part":
                p.unlink(missing_ok=True)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
