"""The update repository: bundles plus one signed index, in a directory or behind any
static HTTP server.

``index.json`` is ``{"signed": {...}, "signature": {...}}`` (one file, replaced
atomically, so a reader never pairs an old index with a new signature). The signed part::

    kind "slmkit-index", schema 1
    version   a counter, +1 on every publish (the agent refuses a lower one than it saw)
    expires   ISO time; the agent refuses an expired index (freeze attack)
    channels  {CHANNEL: {"name", "version", "bundle" (path in the repo), "sha256",
                         "size", "rollout" (0-100), "published"}}

A bundle's version in a channel only goes up (no downgrades), and the index pins each
bundle's sha256 and size, so a repository or a mirror cannot swap in another file.
"""

from __future__ import annotations

import json
import shutil
import time
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from slmkit.core.options import Done, opt
from slmkit.edge import bundle as bdl
from slmkit.edge import keys
from slmkit.edge import manifest as mf
from slmkit.edge.errors import BundleError, UpdateRefused
from slmkit.util.files import atomic_write, sha256_file, temp_sibling

INDEX = "index.json"
INDEX_KIND = "slmkit-index"
CHUNK = 1 << 20


def publish(bundle_path: str | Path, repo: str | Path, private_key: str | Path, *,
            channel: str = "stable", rollout: float = 100.0, expires_days: float = 7.0) -> dict:
    """Add a bundle to the repository directory ``repo`` and point ``channel`` at it with
    ``rollout`` percent of devices. Re-publishing the same bundle changes only the rollout
    and expiry; an older or equal version with other content is refused. Returns the new
    signed index body."""
    from filelock import FileLock

    key = keys.load_private(private_key)
    manifest = bdl.verify(bundle_path, key.public_key())
    if not 0 <= rollout <= 100:
        raise ValueError(f"rollout {rollout} is not between 0 and 100 (percent)")
    repo = Path(repo)
    (repo / "bundles").mkdir(parents=True, exist_ok=True)
    with FileLock(str(repo / ".publish.lock")):
        index = _load_local(repo, key.public_key())
        digest = sha256_file(bundle_path)
        _check_newer(index["channels"].get(channel), manifest, digest, channel)
        rel = f"bundles/{manifest['name']}-{manifest['version']}.slmb"
        if not (repo / rel).exists() or sha256_file(repo / rel) != digest:
            tmp = temp_sibling(repo / rel)
            shutil.copyfile(bundle_path, tmp)
            tmp.replace(repo / rel)
        index["channels"][channel] = {
            "name": manifest["name"], "version": manifest["version"], "bundle": rel,
            "sha256": digest, "size": Path(bundle_path).stat().st_size,
            "rollout": rollout, "published": _iso(datetime.now(timezone.utc))}
        index["version"] += 1
        index["expires"] = _iso(datetime.now(timezone.utc) + timedelta(days=expires_days))
        write_index(repo, index, key)
    return index


@dataclass
class PublishRequest:
    """`slm publish FILE --repo DIR`: :func:`publish`, the rollout given as ``10%``."""

    JSON_HELP = "machine-readable output"
    bundle: str = opt(None, "a bundle made by `slm bundle`", metavar="FILE", positional=True)
    repo: str = opt(None, "the repository directory", metavar="DIR", required=True)
    sign: str = opt(None, "private key (signs the index)", metavar="KEY", required=True)
    channel: str = opt("stable")
    rollout: str = opt("100%", "share of devices, e.g. 10%% (default 100%%)")
    expires_days: float = opt(7.0, "devices refuse the index after this long (default 7)")
    tuf: bool = opt(False, "also sign TUF metadata (root, targets, snapshot, timestamp) over "
                           "the index; devices use `slm agent --tuf-root`")
    tuf_key: list[str] | None = opt(None, "with --tuf: this role's own key (default: --sign "
                                          "for every role; repeatable)", metavar="ROLE=KEY",
                                    action="append")
    tuf_old_root: str | None = opt(None, "with --tuf: the previous root key, when the root key "
                                         "changes", metavar="KEY")

    def run(self, progress=None) -> Done:
        index = publish(self.bundle, self.repo, self.sign, channel=self.channel,
                        rollout=float(self.rollout.rstrip("%")),
                        expires_days=self.expires_days)
        e = index["channels"][self.channel]
        text = (f"published {e['name']} {e['version']} to {self.channel} at {e['rollout']:g}% "
                f"(index version {index['version']}, expires {index['expires']})")
        if self.tuf:
            from slmkit.edge import tuf_repo

            index["tuf"] = tuf_repo.publish(self.repo, tuf_repo.role_keys(self.sign,
                                                                          self.tuf_key),
                                            expires_days=self.expires_days,
                                            old_root_key=self.tuf_old_root)
            text += (f"\nTUF metadata signed: {index['tuf']}; devices trust "
                     f"{tuf_repo.trusted_root(self.repo)} (slm agent --tuf-root)")
        return Done(index, text)


def _check_newer(current: dict | None, manifest: dict, digest: str, channel: str) -> None:
    if current is None:
        return
    old, new = mf.parse_version(current["version"]), mf.parse_version(manifest["version"])
    if new > old or (new == old and current["sha256"] == digest):
        return
    raise BundleError(f"channel {channel} is at {current['version']}; publishing "
                      f"{manifest['version']} would be a downgrade or a changed release",
                      hint="bundle it with a higher --version")


def write_index(repo: Path, body: dict, key) -> None:
    """Sign ``body`` and replace ``repo/index.json`` atomically."""
    doc = {"signed": body, "signature": keys.sign(key, mf.canonical(body))}
    atomic_write(repo / INDEX, json.dumps(doc, indent=1, sort_keys=True), fsync=True)


def _load_local(repo: Path, public) -> dict:
    path = repo / INDEX
    if not path.exists():
        return {"kind": INDEX_KIND, "schema": 1, "version": 0, "expires": "", "channels": {}}
    return check_index(path.read_bytes(), public, check_expiry=False)


def _iso(t: datetime) -> str:
    return t.astimezone(timezone.utc).isoformat(timespec="seconds")


def check_index(data: bytes, public, *, check_expiry: bool = True,
                seen_version: int = 0, now: datetime | None = None) -> dict:
    """The signed body of an index after checking its signature, its expiry and that its
    version is not below ``seen_version`` (a replayed old index)."""
    try:
        doc = json.loads(data)
        body, signature = doc["signed"], doc["signature"]
    except (ValueError, KeyError, TypeError) as err:
        raise BundleError(f"the repository index is not a signed slmkit index: {err}") from err
    keys.verify(public, mf.canonical(body), signature, "the repository index")
    if body.get("kind") != INDEX_KIND:
        raise BundleError("the repository index is of an unknown kind")
    if check_expiry:
        expires = datetime.fromisoformat(body["expires"])
        if (now or datetime.now(timezone.utc)) > expires:
            raise UpdateRefused(f"the repository index expired at {body['expires']} (a stale "
                                "or frozen repository)",
                                hint="re-publish (`slm publish`) to renew the index")
    if body["version"] < seen_version:
        raise UpdateRefused(f"the repository index is version {body['version']}, older than "
                            f"version {seen_version} seen before (a replayed index)",
                            hint="check the repository or mirror; it serves old metadata")
    return body


# ---- reading from a directory or a URL -------------------------------------------------------

def is_url(repo: str) -> bool:
    return str(repo).startswith(("http://", "https://"))


def fetch_bytes(repo: str, rel: str, timeout: float = 30.0) -> bytes:
    """A small file of the repository (the index)."""
    if is_url(repo):
        with urllib.request.urlopen(f"{repo.rstrip('/')}/{rel}", timeout=timeout) as resp:
            return resp.read()
    return (Path(repo) / rel).read_bytes()


def download(repo: str, rel: str, part: Path, size: int, *, bandwidth: float | None = None,
             on_chunk=None, timeout: float = 30.0) -> str:
    """Append the repository file ``rel`` to ``part`` from where it stops (resuming an
    interrupted download), at most ``bandwidth`` bytes/s; ``on_chunk(done)`` after each
    chunk. Returns the sha256 of ``part`` once it holds ``size`` bytes (hashed as it is
    written; a resumed file's first part is hashed from disk)."""
    import hashlib

    part.parent.mkdir(parents=True, exist_ok=True)
    done = part.stat().st_size if part.exists() else 0
    if done > size:
        part.unlink()
        done = 0
    h = hashlib.sha256()
    if done:
        with open(part, "rb") as f:
            while chunk := f.read(CHUNK):
                h.update(chunk)
    if done < size:
        with _open_from(repo, rel, done, timeout) as src, open(part, "ab") as out:
            _copy(src, out, h, done, on_chunk, bandwidth)
    if part.stat().st_size != size:
        raise BundleError(f"{rel}: downloaded {part.stat().st_size} bytes, the index says {size}",
                          hint="the next poll resumes the download")
    return h.hexdigest()


def _copy(src, out, h, done: int, on_chunk, bandwidth: float | None) -> None:
    start, start_done = time.monotonic(), done
    while chunk := src.read(CHUNK):
        out.write(chunk)
        out.flush()
        h.update(chunk)
        done += len(chunk)
        if on_chunk:
            on_chunk(done)
        if bandwidth:
            ahead = (done - start_done) / bandwidth - (time.monotonic() - start)
            if ahead > 0:
                time.sleep(ahead)


def _open_from(repo: str, rel: str, offset: int, timeout: float):
    if is_url(repo):
        req = urllib.request.Request(f"{repo.rstrip('/')}/{rel}",
                                     headers={"Range": f"bytes={offset}-"} if offset else {})
        resp = urllib.request.urlopen(req, timeout=timeout)
        if offset and resp.status != 206:  # the server ignored Range: skip what we have
            left = offset
            while left and (skipped := len(resp.read(min(left, CHUNK)))):
                left -= skipped
        return resp
    f = open(Path(repo) / rel, "rb")
    f.seek(offset)
    return f
