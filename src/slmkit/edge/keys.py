"""Ed25519 signing keys: generate a pair, load them, sign and verify bytes.

A private key is a PEM file (PKCS#8, mode 0600); its public key sits next to it as
``NAME.pub`` (PEM, SubjectPublicKeyInfo). A key id is the first 16 hex digits of the
sha256 of the raw 32-byte public key: short enough to print, long enough to tell keys
apart. ``cryptography`` is imported inside the functions (the ``edge`` extra).
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from pathlib import Path

from slmkit.core.options import Done, opt
from slmkit.edge.errors import BundleError, KeyExists
from slmkit.util.files import atomic_write

INSTALL_HINT = "install the edge extra: pip install 'slmkit[edge]'"


def _crypto():
    try:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ed25519
    except ImportError as err:
        raise BundleError("the `cryptography` package is not installed",
                          hint=INSTALL_HINT) from err
    return serialization, ed25519


def generate(path: str | Path, *, force: bool = False) -> tuple[Path, Path]:
    """Write a new private key to ``path`` (0600) and its public key to ``path.pub``;
    refuses to overwrite an existing key unless ``force``. Returns both paths."""
    serialization, ed25519 = _crypto()
    path = Path(path)
    pub = public_path(path)
    if path.exists() and not force:
        raise KeyExists(f"{path} already exists", hint="pass --force to replace it (bundles "
                        "signed with it will no longer verify with a new key)")
    key = ed25519.Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, pem, mode=0o600)
    atomic_write(pub, public_pem(key.public_key()))
    return path, pub


def public_path(private: str | Path) -> Path:
    """Where the public key of the private key file ``private`` is written."""
    private = Path(private)
    return private.with_name(private.name + ".pub")


def public_pem(public) -> bytes:
    """PEM text of a public key object."""
    serialization, _ = _crypto()
    return public.public_bytes(serialization.Encoding.PEM,
                               serialization.PublicFormat.SubjectPublicKeyInfo)


def load_private(path: str | Path):
    """The Ed25519 private key in the PEM file ``path``."""
    serialization, ed25519 = _crypto()
    data = _read(path, "private key")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as err:
        raise BundleError(f"{path} is not an unencrypted PEM private key: {err}",
                          hint="make one with `slm keys generate`") from err
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise BundleError(f"{path} is not an Ed25519 key", hint="make one with `slm keys generate`")
    return key


def load_public(path: str | Path):
    """The Ed25519 public key in ``path`` (a ``.pub`` PEM file, or a private key file)."""
    serialization, ed25519 = _crypto()
    data = _read(path, "public key")
    if b"PRIVATE KEY" in data:
        return load_private(path).public_key()
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError as err:
        raise BundleError(f"{path} is not a PEM public key: {err}",
                          hint="pass the .pub file that `slm keys generate` wrote") from err
    if not isinstance(key, ed25519.Ed25519PublicKey):
        raise BundleError(f"{path} is not an Ed25519 public key",
                          hint="pass the .pub file that `slm keys generate` wrote")
    return key


def key_id(public) -> str:
    """Short stable id of a public key (16 hex digits)."""
    serialization, _ = _crypto()
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def sign(private, data: bytes) -> dict:
    """A detached signature of ``data``: ``{"alg", "keyid", "sig"}`` (base64)."""
    return {"alg": "ed25519", "keyid": key_id(private.public_key()),
            "sig": base64.b64encode(private.sign(data)).decode("ascii")}


def verify(public, data: bytes, signature: dict, what: str) -> None:
    """Check a :func:`sign` signature of ``data``; ``BundleError`` naming ``what`` and
    both key ids when it does not match."""
    from cryptography.exceptions import InvalidSignature

    expected = key_id(public)
    if signature.get("keyid") != expected:
        raise BundleError(f"{what} is signed by key {signature.get('keyid')}, not by the "
                          f"trusted key {expected}",
                          hint="pass the public key of the key that signed it (--key)")
    try:
        public.verify(base64.b64decode(signature.get("sig", "")), data)
    except (InvalidSignature, ValueError) as err:
        raise BundleError(f"{what}: the signature does not match its content (altered after "
                          "signing)", hint="do not use it; fetch or rebuild it") from err


def _read(path: str | Path, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise BundleError(f"{what} file {path} does not exist",
                          hint="make a key pair with `slm keys generate KEYFILE`") from None


@dataclass
class KeysRequest:
    """`slm keys generate|show KEYFILE`: make a key pair, or show one's id and files."""

    JSON_HELP = "machine-readable output"
    action: str = opt(None, choices=("generate", "show"), positional=True)
    keyfile: str = opt(None, "private key file (its public key is KEYFILE.pub)",
                       metavar="KEYFILE", positional=True)
    force: bool = opt(False, "generate: replace an existing key")

    def run(self, progress=None) -> Done:
        if self.action == "generate":
            generate(self.keyfile, force=self.force)
        public_file = public_path(self.keyfile)
        public = load_public(public_file if public_file.exists() else self.keyfile)
        info = {"key_id": key_id(public), "private": str(self.keyfile),
                "public": str(public_file), "public_pem": public_pem(public).decode()}
        verb = "generated" if self.action == "generate" else "key"
        return Done(info, f"{verb} {info['key_id']}\n  private {info['private']} (keep it "
                          f"secret)\n  public  {info['public']} (give this to devices: --key)")
