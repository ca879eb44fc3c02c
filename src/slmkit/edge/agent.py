"""The device agent: poll → download → verify → fit check → install → swap → probation
→ commit, or roll back with the reason recorded.

Every step is safe to interrupt (SIGKILL included): :meth:`Device.recover` runs first on
each poll, so a crash anywhere leaves the committed version on ``current`` and the update
is retried; a version that failed probation is remembered and not retried. ``crash_at``
names a step at which the agent kills itself (fault-injection tests only; see
:data:`CRASH_POINTS`).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from slmkit.edge import bundle as bdl
from slmkit.edge import fidelity, golden, keys, rag
from slmkit.edge import manifest as mf
from slmkit.edge import repo as rp
from slmkit.edge.device import Device, now_iso
from slmkit.edge.errors import BundleError, UpdateRefused
from slmkit.edge.server import ServeProcess

# in order: mid-download, mid-unpack (after a file), all files checked, after the swap,
# with the probation server up, after the commit is written
CRASH_POINTS = ("download", "install", "verified", "swapped", "probation", "commit")
DEFAULT_PROBE = [{"prompt": "Say hello.", "regex": r"\S"}]


@dataclass
class AgentConfig:
    """Where updates come from and how this device takes them."""

    repo: str
    public_key: str
    device_dir: Path
    channel: str = "stable"
    device_id: str | None = None
    ram_limit: int | None = None  # bytes the model may use (default: available RAM)
    bandwidth: float | None = None  # bytes/s while downloading (None: unlimited)
    probation_timeout: float = 180.0
    tuf_root: str | None = None  # the TUF trust anchor: fetch the index through TUF
    crash_at: str | None = None
    on_step: Callable[[str], None] | None = None  # called at each of CRASH_POINTS (timing)


@dataclass
class Outcome:
    """What one poll did: ``action`` is none, up_to_date, waiting, skipped, refused,
    installed or rolled_back (or error, from the agent loop: see ``runner``)."""

    action: str
    version: str | None = None
    reason: str = ""


def rollout_bucket(device_id: str, channel: str) -> float:
    """A stable number in [0, 100) for a device: it takes a release when the release's
    rollout percentage is above it, so the same devices go first every time."""
    digest = hashlib.sha256(f"{channel}:{device_id}".encode()).hexdigest()
    return int(digest[:8], 16) % 10000 / 100


class Agent:
    """Runs polls for one device directory (see the module docstring)."""

    def __init__(self, config: AgentConfig) -> None:
        if config.crash_at and config.crash_at not in CRASH_POINTS:
            raise ValueError(f"unknown crash point {config.crash_at!r}: {CRASH_POINTS}")
        self.config = config
        self.device = Device(config.device_dir, config.device_id)
        self.public = keys.load_public(config.public_key)

    def _step(self, name: str) -> None:
        if self.config.on_step:
            self.config.on_step(name)
        if self.config.crash_at == name:
            os.kill(os.getpid(), signal.SIGKILL)

    def poll_once(self) -> Outcome:
        """One poll of the repository; installs or rolls back at most one update."""
        self.device.recover()
        state = self.device.state()
        try:
            entry = self._index_entry(state)
            if entry is None:
                return Outcome("none", reason=f"channel {self.config.channel} is not published")
            skip = self._skip_reason(state, entry)
            if skip:
                return skip
            part, manifest = self._fetch(entry)
            self._check_fits(manifest, entry)
        except (UpdateRefused, BundleError) as err:
            return self._refused(err)
        return self._install(state, entry, part, manifest)

    # ---- the steps --------------------------------------------------------------------------

    def _index_entry(self, state: dict) -> dict | None:
        try:
            if self.config.tuf_root:
                from slmkit.edge.tuf_client import fetch_index

                data = fetch_index(self.config.repo, self.device.root, self.config.tuf_root)
            else:
                data = rp.fetch_bytes(self.config.repo, rp.INDEX)
        except OSError as err:
            raise UpdateRefused(f"cannot read the repository index: {err}",
                                hint="check --repo; the current version keeps serving") from err
        index = rp.check_index(data, self.public, seen_version=state.get("index_version", 0))
        if index["version"] != state.get("index_version"):
            state["index_version"] = index["version"]
            self.device.save(state)
        return index["channels"].get(self.config.channel)

    def _skip_reason(self, state: dict, entry: dict) -> Outcome | None:
        version = entry["version"]
        committed = state.get("committed") or {}
        if committed.get("version"):
            have, new = mf.parse_version(committed["version"]), mf.parse_version(version)
            if new == have:
                self.device.clean_staging()
                return Outcome("up_to_date", version)
            if new < have:
                raise UpdateRefused(f"the repository offers {version}, older than the "
                                    f"installed {committed['version']} (a downgrade)",
                                    hint="publish a higher version to change the model")
        if version in state.get("rejected", {}):
            return Outcome("skipped", version, f"failed before: {state['rejected'][version]}")
        bucket = rollout_bucket(self.device.id, self.config.channel)
        if bucket >= float(entry.get("rollout", 100)):
            return Outcome("waiting", version, f"rollout {entry.get('rollout')}% has not "
                                               f"reached this device (bucket {bucket:.2f})")
        return None

    def _fetch(self, entry: dict) -> tuple[Path, dict]:
        """Download (resuming) and check the file against the signed index; the manifest
        after its signature checks out. Every member is checked while unpacking."""
        part = self.device.staging_file(entry["sha256"])
        self.device.clean_staging(keep=entry["sha256"])

        def on_chunk(done: int) -> None:
            if done >= rp.CHUNK:
                self._step("download")

        try:
            digest = rp.download(self.config.repo, entry["bundle"], part, entry["size"],
                                 bandwidth=self.config.bandwidth, on_chunk=on_chunk)
        except OSError as err:  # the network or the repository went away mid-download
            raise UpdateRefused(f"downloading {entry['bundle']} stopped: {err}",
                                hint="the next poll resumes it") from err
        if digest != entry["sha256"]:
            part.unlink()
            raise BundleError(f"{entry['bundle']}: sha256 differs from the signed index",
                              hint="the repository or a mirror serves another file")
        manifest = bdl.read_manifest(part, self.public)
        if (manifest["name"], manifest["version"]) != (entry["name"], entry["version"]):
            raise BundleError(f"the index names {entry['name']} {entry['version']} but the "
                              f"bundle is {manifest['name']} {manifest['version']}")
        return part, manifest

    def _check_fits(self, manifest: dict, entry: dict) -> None:
        mf.check_min_version(manifest)
        rag.check_device(manifest)
        need = int(manifest["hardware"]["ram_bytes"])
        have = self.config.ram_limit
        if have is None:
            from slmkit.models.hardware import probe

            have = probe().available_ram
        if need > have:
            raise UpdateRefused(f"{manifest['version']} needs {need / 2**20:,.0f} MiB of RAM "
                                f"(ctx {manifest['hardware']['n_ctx']}), this device has "
                                f"{have / 2**20:,.0f} MiB", hint="publish a smaller model or "
                                "quantization for this device's channel")
        free = shutil.disk_usage(self.device.root).free
        if free < entry["size"]:
            raise UpdateRefused(f"{entry['size']:,} bytes to install, {free:,} free on disk")

    def _install(self, state: dict, entry: dict, part: Path, manifest: dict) -> Outcome:
        """Unpack into the free slot's staging directory, checking every file's digest
        (the last verification), then rename it into place, swap, probation."""
        version = manifest["version"]
        slot = self.device.free_slot(state)
        tmp = self.device.begin_install(slot)
        try:
            bdl.unpack(part, self.public, tmp, reuse=self._reuse,
                       on_member=lambda name: self._step("install"))
        except BundleError as err:  # the signed release itself is broken: do not retry it
            shutil.rmtree(tmp, ignore_errors=True)
            self.device.clean_staging()
            state.setdefault("rejected", {})[version] = err.message
            self.device.save(state)
            return self._refused(err)
        self._step("verified")
        self.device.finish_install(slot, tmp, manifest)
        state["pending"] = {"slot": slot, "version": version, "name": manifest["name"],
                            "model_sha": manifest["model"]["sha256"], "bundle": entry["sha256"]}
        self.device.save(state)
        self.device.point_current(slot)
        self._step("swapped")
        result = self._probation(slot, manifest)
        if result.ok:
            return self._commit(state, result)
        return self._rollback(state, version, result.reason, result)

    def _reuse(self, name: str, entry: dict) -> Path | None:
        """A file with this digest in an installed slot (for config-only bundles). A
        collection is re-hashed: a server may have written to it since it was installed."""
        from slmkit.util.files import sha256_file

        for slot in ("a", "b"):
            m = self.device.slot_manifest(slot)
            if m and m["files"].get(name, {}).get("sha256") == entry["sha256"]:
                path = self.device.slot_dir(slot) / name
                if path.exists() and path.stat().st_size == entry["size"] and (
                        not name.startswith(rag.MUTABLE_PREFIX)
                        or sha256_file(path) == entry["sha256"]):
                    return path
        return None

    def _probation(self, slot: str, manifest: dict) -> golden.GoldenResult:
        """Start `slm serve` on the new slot on a loopback port and run the golden prompts,
        the speed check and (when the bundle carries a reference) the fidelity check."""
        slot_dir = self.device.slot_dir(slot)
        prompts = (golden.load(slot_dir / manifest["golden"]) if manifest.get("golden")
                   else DEFAULT_PROBE)
        log = self.device.root / "probation.log"
        log.unlink(missing_ok=True)
        try:
            with ServeProcess(slot_dir, manifest, log=log) as server:
                model = server.wait_ready(self.config.probation_timeout)
                self._step("probation")
                result = golden.run(server.base_url, model, prompts, manifest["acceptance"])
                if result.ok and manifest.get("fidelity"):
                    result.reason, result.fidelity = fidelity.check(
                        server.base_url, model, slot_dir / manifest["fidelity"],
                        manifest["acceptance"])
                return result
        except (RuntimeError, OSError, ValueError, KeyError) as err:
            return golden.GoldenResult(total=len(prompts), reason=f"server check: {err}")

    def _commit(self, state: dict, result: golden.GoldenResult) -> Outcome:
        pending = state["pending"]
        state["previous"] = state.get("committed")
        state["committed"] = {**pending, "installed": now_iso()}
        state["pending"] = None
        state["last_probation"] = result.to_dict()
        Device.log(state, "installed", pending["version"],
                   f"{result.passed}/{result.total} golden, {result.tok_s:.1f} tok/s")
        self.device.save(state)
        self._step("commit")
        self.device.clean_staging()
        return Outcome("installed", pending["version"])

    def _rollback(self, state: dict, version: str, reason: str,
                  result: golden.GoldenResult | None = None) -> Outcome:
        committed = (state.get("committed") or {}).get("slot")
        self.device.point_current(committed)
        state["pending"] = None
        state.setdefault("rejected", {})[version] = reason
        if result is not None:
            state["last_probation"] = result.to_dict()
        Device.log(state, "rolled_back", version, reason)
        self.device.save(state)
        self.device.clean_staging()
        return Outcome("rolled_back", version, reason)

    def _refused(self, err: Exception) -> Outcome:
        reason = getattr(err, "message", str(err))
        state = self.device.state()
        last = (state.get("history") or [{}])[-1]
        if not (last.get("event") == "refused" and last.get("reason") == reason):
            Device.log(state, "refused", None, reason)
            self.device.save(state)
        return Outcome("refused", reason=reason)

    # ---- for the heartbeat and `slm agent --status` -------------------------------------------

    def status(self) -> dict:
        """What this device runs and what happened lately."""
        state = self.device.state()
        committed = state.get("committed") or {}
        rollbacks = [h for h in state.get("history", []) if h["event"] == "rolled_back"]
        return {"device_id": self.device.id, "channel": self.config.channel,
                "version": committed.get("version"), "model_sha": committed.get("model_sha"),
                "previous": (state.get("previous") or {}).get("version"),
                "current_slot": self.device.current_slot(),
                "last_probation": state.get("last_probation"),
                "last_rollback": rollbacks[-1] if rollbacks else None,
                "rollbacks": len(rollbacks), "history": state.get("history", [])[-5:]}
