"""``slm export sagemaker MODEL -o DIR``: what SageMaker hosting needs to serve a stored
model with slmkit's own server.

    DIR/model.tar.gz   the model file(s) (or only a reference to a catalog name) and code/:
                       code/serve (the entry point) + code/slmkit-sagemaker.json
    DIR/code/          the same code, unpacked (the image's build context needs none of it)
    DIR/Dockerfile     the serving image: slmkit[serve] and a `serve` command that runs
                       /opt/ml/model/code/serve
    DIR/deploy.py      boto3: upload to S3, create model, endpoint config and endpoint

The entry point runs ``slm serve MODEL --sagemaker`` on port 8080 (``GET /ping``,
``POST /invocations``), as SageMaker's container contract asks.
"""

from __future__ import annotations

import json
import re
import shutil
import tarfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from slmkit.core.errors import SlmError
from slmkit.core.options import Done, opt

CONFIG_NAME = "slmkit-sagemaker.json"


@dataclass(frozen=True)
class Export:
    """What was written: the directory, the archive and what the archive holds."""

    directory: Path
    archive: Path
    model: str
    model_path: str | None  # inside the archive; None for a reference
    endpoint_name: str
    size_bytes: int

    def to_dict(self) -> dict:
        return {"directory": str(self.directory), "archive": str(self.archive),
                "model": self.model, "model_path": self.model_path,
                "endpoint_name": self.endpoint_name, "size_bytes": self.size_bytes}


def endpoint_name(model: str) -> str:
    """A valid SageMaker endpoint name for a model name (``[a-zA-Z0-9-]``, ≤ 63)."""
    name = re.sub(r"-+", "-", re.sub(r"[^a-zA-Z0-9]", "-", model)).strip("-")
    return (name or "slmkit")[:63].rstrip("-")


def _template(name: str) -> str:
    return resources.files("slmkit.export").joinpath("templates", name).read_text("utf-8")


def export(model: str | None, output: str | Path, *, ctx: int = 4096, parallel: int = 2,
           reference: bool = False, pull: bool = True, store=None,
           compresslevel: int = 1) -> Export:
    """Write the SageMaker layout for ``model`` (a stored/catalog name or a path) into
    ``output`` (created; must be empty if it exists). ``reference``: leave the model
    files out and let the container pull the model by name at start. ``compresslevel``:
    gzip's (quantized weights hardly compress; 1 is quick)."""
    from slmkit import __version__
    from slmkit.models.load import resolve

    out = Path(output)
    if out.exists() and any(out.iterdir()):
        raise SlmError(f"{out} is not empty", hint="give a new or empty directory with -o")
    resolved = resolve(model, pull=pull and not reference, store=store)
    if reference and Path(resolved.path).exists() and resolved.ref.source is None:
        raise SlmError(f"{resolved.name} is a local file, not something the container can pull",
                       hint="leave out --reference to ship the file in model.tar.gz")
    src = Path(resolved.path)
    inner = None if reference else ("model.gguf" if src.is_file() else "model")
    config = {"model": resolved.name, "model_path": inner, "backend": resolved.backend,
              "ctx": ctx, "parallel": parallel, "slmkit_version": __version__}
    code = out / "code"
    code.mkdir(parents=True)
    (code / "serve").write_text(_template("serve.tmpl"), encoding="utf-8")
    (code / "serve").chmod(0o755)
    (code / CONFIG_NAME).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    name = endpoint_name(resolved.name)
    (out / "Dockerfile").write_text(_template("Dockerfile.tmpl").format(
        version_pin=f"=={__version__}"), encoding="utf-8")
    (out / "deploy.py").write_text(_template("deploy.tmpl").format(name=name),
                                   encoding="utf-8")
    archive = out / "model.tar.gz"
    with tarfile.open(archive, "w:gz", compresslevel=compresslevel) as tar:
        if inner is not None:
            tar.add(src, arcname=inner)
        tar.add(code, arcname="code")
    return Export(out, archive, resolved.name, inner, name, archive.stat().st_size)


def unpack(archive: str | Path, into: str | Path) -> Path:
    """Unpack a model.tar.gz the way SageMaker does into /opt/ml/model (for local tests)."""
    into = Path(into)
    into.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "r:gz") as tar:
        tar.extractall(into, filter="data")
    return into


def clean(directory: str | Path) -> None:
    """Remove an export directory."""
    shutil.rmtree(directory, ignore_errors=True)


@dataclass
class ExportRequest:
    """`slm export sagemaker MODEL -o DIR`: :func:`export`, and what to do next."""

    JSON_HELP = "machine-readable output"
    target: str = opt(None, "where the model will run", choices=("sagemaker",), positional=True)
    model: str | None = opt(None, "stored model name or path (default: the default model)",
                            metavar="MODEL", nargs="?", positional=True)
    output: str = opt(None, "directory to write (new or empty)", metavar="DIR", short="-o",
                      required=True)
    ctx: int = opt(4096, "context window the endpoint serves")
    parallel: int = opt(2, "sequences decoded together on the endpoint")
    reference: bool = opt(False, "leave the model file out: the container pulls the model by "
                                 "name at start (it then needs internet access)")
    no_pull: bool = opt(False, "fail instead of pulling a catalog model that is not stored")

    def run(self, progress=None) -> Done:
        done = export(self.model, self.output, ctx=self.ctx, parallel=self.parallel,
                      reference=self.reference, pull=not self.no_pull)
        return Done(done.to_dict(), f"wrote {done.archive} ({done.size_bytes / 2**20:,.1f} "
                    f"MiB, {done.model})\n  next: build and push {done.directory}/Dockerfile "
                    f"to ECR, then\n  python {done.directory}/deploy.py --bucket B --role "
                    f"ROLE_ARN --image ECR_URI --name {done.endpoint_name}\n  see docs/aws.md")
