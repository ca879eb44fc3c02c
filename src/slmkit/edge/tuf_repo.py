"""TUF metadata for an update repository (``slm publish --tuf``; ``tuf``, the ``edge``
extra): the four top-level roles over the repository's ``index.json``.

Layout, next to the plain repository::

    repo/index.json                 the signed index (edge.repo), now also a TUF target
    repo/tuf/metadata/N.root.json   every root version (devices walk them to rotate keys)
    repo/tuf/metadata/{timestamp,snapshot,targets}.json

``targets`` lists ``index.json`` with its length and sha256, ``snapshot`` pins the
``targets`` version, ``timestamp`` the ``snapshot`` version, each signed by its role's key
(threshold 1; by default the publisher's ``--sign`` key holds every role, ``--tuf-key
ROLE=KEY`` gives a role its own). The index keeps pinning each bundle's sha256 and size, so
the chain timestamp → snapshot → targets → index → bundle is what a device verifies
(:mod:`slmkit.edge.tuf_client`). Changing a role's key writes a new root version signed by
the root key (and, when the root key itself changes, by the old root key too).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

from slmkit.edge import keys
from slmkit.edge.errors import BundleError
from slmkit.util.files import atomic_write

ROLES = ("root", "targets", "snapshot", "timestamp")
ROOT_DAYS = 365
TARGET = "index.json"


def metadata_dir(repo: str | Path) -> Path:
    return Path(repo) / "tuf" / "metadata"


def _signer(private_path: str | Path):
    from securesystemslib.signer import CryptoSigner, SSlibKey

    private = keys.load_private(private_path)
    return CryptoSigner(private, SSlibKey.from_crypto(private.public_key()))


def _expiry(days: float) -> datetime:
    return (datetime.now(timezone.utc) + timedelta(days=days)).replace(microsecond=0)


def publish(repo: str | Path, role_keys: dict[str, str | Path], *, expires_days: float = 7.0,
            old_root_key: str | Path | None = None) -> dict[str, int]:
    """Sign ``repo/index.json`` into the TUF metadata (created on first use); returns each
    role's new version. ``role_keys`` maps every role in :data:`ROLES` to a private key."""
    missing = [r for r in ROLES if r not in role_keys]
    if missing:
        raise BundleError(f"no key for the TUF role(s) {', '.join(missing)}")
    signers = {r: _signer(role_keys[r]) for r in ROLES}
    meta = metadata_dir(repo)
    meta.mkdir(parents=True, exist_ok=True)
    root = _root(meta, signers, old_root_key)
    versions = {"root": root.signed.version}
    versions["targets"] = _sign_targets(meta, Path(repo) / TARGET, signers["targets"],
                                        expires_days)
    versions["snapshot"] = _bump(meta, "snapshot", signers["snapshot"], expires_days,
                                 lambda s: s.meta["targets.json"].__setattr__(
                                     "version", versions["targets"]))
    versions["timestamp"] = _bump(meta, "timestamp", signers["timestamp"], expires_days,
                                  lambda t: t.snapshot_meta.__setattr__(
                                      "version", versions["snapshot"]))
    return versions


def _root(meta: Path, signers: dict, old_root_key):
    """The current root; a new version when a role's key changed (first use: version 1)."""
    from tuf.api.metadata import Metadata, Root

    versions = sorted(int(p.name.split(".")[0]) for p in meta.glob("*.root.json"))
    if not versions:
        md = Metadata(Root(expires=_expiry(ROOT_DAYS), consistent_snapshot=False))
        for role in ROLES:
            md.signed.add_key(signers[role].public_key, role)
        return _write_root(meta, md, [signers["root"]])
    md = Metadata.from_file(str(meta / f"{versions[-1]}.root.json"))
    wanted = {r: signers[r].public_key.keyid for r in ROLES}
    if all(md.signed.roles[r].keyids == [wanted[r]] for r in ROLES):
        return md
    sign_with = [signers["root"]]
    if md.signed.roles["root"].keyids != [wanted["root"]]:
        if old_root_key is None:
            raise BundleError("the TUF root key changes: devices accept the new root only "
                              "if the old root key signs it too",
                              hint="give the old root key (--tuf-old-root KEY)")
        sign_with.append(_signer(old_root_key))
    for role in ROLES:
        for keyid in list(md.signed.roles[role].keyids):
            md.signed.revoke_key(keyid, role)
        md.signed.add_key(signers[role].public_key, role)
    md.signed.version += 1
    md.signed.expires = _expiry(ROOT_DAYS)
    return _write_root(meta, md, sign_with)


def _write_root(meta: Path, md, signers: list):
    md.signatures.clear()
    for s in signers:
        md.sign(s, append=True)
    _write(meta / f"{md.signed.version}.root.json", md)
    return md


def _sign_targets(meta: Path, index: Path, signer, days: float) -> int:
    from tuf.api.metadata import Metadata, TargetFile, Targets

    if not index.exists():
        raise BundleError(f"{index} does not exist", hint="publish a bundle first")
    path = meta / "targets.json"
    md = Metadata.from_file(str(path)) if path.exists() else Metadata(Targets())
    md.signed.targets[TARGET] = TargetFile.from_file(TARGET, str(index), ["sha256"])
    return _resign(path, md, signer, days, bump=path.exists())


def _bump(meta: Path, role: str, signer, days: float, update) -> int:
    from tuf.api.metadata import Metadata, Snapshot, Timestamp

    path = meta / f"{role}.json"
    fresh = {"snapshot": Snapshot, "timestamp": Timestamp}[role]
    md = Metadata.from_file(str(path)) if path.exists() else Metadata(fresh())
    update(md.signed)
    return _resign(path, md, signer, days, bump=path.exists())


def _resign(path: Path, md, signer, days: float, *, bump: bool) -> int:
    md.signed.version += bump
    md.signed.expires = _expiry(days)
    md.signatures.clear()
    md.sign(signer)
    _write(path, md)
    return md.signed.version


def _write(path: Path, md) -> None:
    from tuf.api.serialization.json import JSONSerializer

    atomic_write(path, md.to_bytes(JSONSerializer(compact=False)), fsync=True)


def trusted_root(repo: str | Path) -> Path:
    """The repository's first root: what devices are given as their trust anchor."""
    return metadata_dir(repo) / "1.root.json"


def role_keys(default: str | Path, pairs: list[str] | None = None) -> dict[str, str | Path]:
    """Each role's key: ``default``, or ``ROLE=KEY`` from ``pairs``."""
    out: dict[str, str | Path] = dict.fromkeys(ROLES, default)
    for pair in pairs or []:
        role, sep, path = pair.partition("=")
        if not sep or role not in ROLES or not path:
            raise ValueError(f"--tuf-key {pair!r}: use ROLE=KEY with ROLE one of "
                             f"{', '.join(ROLES)}")
        out[role] = path
    return out
